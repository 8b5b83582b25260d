"""Typed errors that carry the decision "dead-letter now" versus "retry".

Everything below the handler raises one of these; nothing inspects status codes
outside the provider adapters. Messages never hold secrets or full phone numbers.
"""

from __future__ import annotations


class RelayError(Exception):
    """Base class: a machine-readable ``code`` and a human-readable message."""

    def __init__(self, code: str, message: str, *, http_status: int | None = None) -> None:
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


class RecordNotProcessed(Exception):
    """Raised to the batch processor: report this record as a batch item failure."""

    def __init__(self, cause: TransientError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class CredentialsRejected(RelayError):
    """The provider answered 401: fetch the secret again and retry once."""


class ConfigurationError(Exception):
    """A missing or malformed setting, reported at start-up."""


class RecordDeferred(Exception):
    """No rate budget now: report the record as a batch item failure, not as an error."""
