"""Typed errors that carry the decision "dead-letter now" versus "retry".

Adapters and the data layer raise these; the relay turns them into one outcome per
record. Nothing inspects status codes outside the provider adapters. Messages never
hold secrets, and any number-like run of digits in them is masked when the error is
made: they reach logs, the ledger and DLQ attributes, and often quote what a producer
or a provider wrote.
"""

from __future__ import annotations

from optout_relay.masking import mask_numbers


class RelayError(Exception):
    """Base class: a machine-readable ``code`` and a human-readable message."""

    def __init__(self, code: str, message: str, *, http_status: int | None = None) -> None:
        message = mask_numbers(message)
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class PermanentError(RelayError):
    """Retrying cannot help: the record goes to the dead-letter queue at once."""


class InvalidEvent(PermanentError):
    """The message itself is malformed; no provider is called."""


class TransientError(RelayError):
    """Retrying may help: retry briefly in-process, then let SQS redeliver."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        http_status: int | None = None,
        retry_after: float | None = None,
        retry_now: bool = True,
    ) -> None:
        super().__init__(code, message, http_status=http_status)
        self.retry_after = retry_after
        # False when an immediate retry inside this invocation cannot help (a key still refused).
        self.retry_now = retry_now


class CredentialsRejected(RelayError):
    """The provider answered 401: fetch the secret again and retry once."""


class ConfigurationError(Exception):
    """A missing or malformed setting, reported at start-up."""
