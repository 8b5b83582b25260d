"""A provider adapter: its contract (``contract.py``, no I/O) plus the HTTP call.

Adding a provider: one module with a ``ProviderContract`` subclass and a
``ProviderAdapter`` subclass that extends it, one line in ``providers.registry``, and
its ``<NAME>_SECRET_ID`` / ``<NAME>_BASE_URL`` / ``<NAME>_MAX_RPS`` in the template.
"""

from __future__ import annotations

from abc import abstractmethod

from optout_relay.domain.model import CallResult, Credentials, ListRef, Phone
from optout_relay.domain.provider_rules import FieldProblem
from optout_relay.errors import CredentialsRejected, PermanentError, TransientError
from optout_relay.providers.contract import ProviderContract, require_secret_fields
from optout_relay.providers.http import HttpClient, HttpResponse

__all__ = ["FieldProblem", "ProviderAdapter", "ProviderContract", "require_secret_fields"]


class ProviderAdapter(ProviderContract):
    """The provider client: its contract, and the unsubscribe call over one shared HTTP pool."""

    def __init__(self, base_url: str, http: HttpClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http

    @classmethod
    def contract(cls) -> ProviderContract:
        """The contract alone, without an HTTP pool: the contract class this adapter extends."""
        for base in cls.__mro__:
            if issubclass(base, ProviderContract) and not issubclass(base, ProviderAdapter):
                return base()
        raise TypeError(f"{cls.__name__} extends no provider contract")  # pragma: no cover

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
