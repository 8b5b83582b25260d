"""What can go wrong outside a request's own content. Messages never hold a secret, a
token or a phone number: they reach the logs."""

from __future__ import annotations


class ConfigurationError(Exception):
    """A missing or malformed setting, reported at start-up."""


class SecretUnavailable(Exception):
    """The webhook secret could not be read, or does not hold a JSON object: nothing can be
    authenticated, so the provider is told to retry (503)."""


class PublishFailed(Exception):
    """SendMessage did not succeed: the provider is told to retry (503)."""


class LedgerUnavailable(Exception):
    """The echo check could not read the ledger (the opt-out is published anyway)."""
