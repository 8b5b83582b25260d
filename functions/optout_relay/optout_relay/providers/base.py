"""The one small interface every provider adapter implements.

Adding a provider: a module with a ``ProviderAdapter`` subclass, one line in
``providers.registry``, and its ``<NAME>_SECRET_ID`` / ``<NAME>_BASE_URL`` in the template.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from optout_relay.domain.model import CallResult, Credentials, ListRef, Phone
from optout_relay.errors import CredentialsRejected, PermanentError, TransientError
from optout_relay.providers.http import HttpClient, HttpResponse


class FieldProblem(Exception):
    """A provider-specific field of the event is missing or invalid."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ProviderAdapter(ABC):
    name: ClassVar[str]
    default_base_url: ClassVar[str]
    # Fleet-wide calls per second when ``<NAME>_MAX_RPS`` is not set; None: unlimited.
    default_max_rps: ClassVar[float | None] = None

    def __init__(self, base_url: str, http: HttpClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http

    @abstractmethod
    def parse_list(self, document: Mapping[str, Any], default_region: str) -> ListRef:
        """Read and validate the list this event targets; raise ``FieldProblem``."""

    def check_phone(self, phone: Phone) -> None:  # noqa: B027 - optional hook
        """Reject numbers the provider cannot serve; raise ``FieldProblem``."""

    @abstractmethod
    def credentials_from(self, secret: Mapping[str, Any]) -> Credentials:
        """Build credentials from the secret's JSON; raise ``TransientError`` if malformed."""

    @abstractmethod
    def unsubscribe(self, phone: Phone, list_ref: ListRef, credentials: Credentials) -> CallResult:
        """Call the provider. Raise typed errors; never return for a failure."""

    # Shared by adapters: what the HTTP status means when the adapter has no special case.
    def raise_for_status(self, response: HttpResponse) -> None:
        status = response.status
        if 200 <= status < 300:
            return
        reason = response.error_text() or f"HTTP {status}"
        if status == 401:
            raise CredentialsRejected(
                "unauthorized",
                f"{self.name} rejected the credentials: {reason}",
                http_status=status,
            )
        if status in (408, 429) or status >= 500:
            code = "rate_limited" if status == 429 else "provider_unavailable"
            raise TransientError(
                code,
                f"{self.name} answered {status}: {reason}",
                http_status=status,
                retry_after=response.retry_after(),
            )
        if status == 403:
            raise PermanentError(
                "provider_forbidden", f"{self.name} answered 403: {reason}", http_status=status
            )
        raise PermanentError(
            "provider_rejected", f"{self.name} answered {status}: {reason}", http_status=status
        )


def require_secret_fields(provider: str, secret: Mapping[str, Any], *fields: str) -> list[str]:
    """Return the named string fields of a secret, or raise without showing any value."""
    values = []
    for name in fields:
        value = secret.get(name) if isinstance(secret, Mapping) else None
        if not isinstance(value, str) or not value:
            raise TransientError(
                "secret_malformed", f"the {provider} secret has no non-empty string field {name!r}"
            )
        values.append(value)
    return values
