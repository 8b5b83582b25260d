"""A provider's contract: everything about it that needs no I/O.

Which field names a list and what a valid value is, which phone numbers it serves,
what its secret holds, its default base URL and per-account rate limit, and how a
target is named. The CLI, the schema tests, the targets document and the simulators
use it without building an HTTP pool; ``base.ProviderAdapter`` extends it with the call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from optout_relay.domain.model import Credentials, ListRef, Phone
from optout_relay.domain.provider_rules import FieldProblem
from optout_relay.errors import TransientError

__all__ = ["FieldProblem", "ProviderContract", "require_secret_fields"]


class ProviderContract(ABC):
    name: ClassVar[str]
    default_base_url: ClassVar[str]
    # Calls per second per account when no ceiling is configured; None: unlimited.
    default_max_rps: ClassVar[float | None] = None
    # The event and targets-document field that names a list.
    list_field: ClassVar[str]

    def parse_list_value(self, value: object, default_region: str) -> ListRef:
        """Validate one list reference; raise ``FieldProblem`` (message without the field name)."""
        raise NotImplementedError(f"{type(self).__name__} does not define parse_list_value")

    def parse_list(self, document: Mapping[str, Any], default_region: str) -> ListRef:
        """Read and validate the list an event targets; raise ``FieldProblem``."""
        field = self.list_field
        if field not in document:
            raise FieldProblem("schema_violation", f"{field} is required for provider {self.name!r}")
        try:
            return self.parse_list_value(document[field], default_region)
        except FieldProblem as problem:
            raise FieldProblem(problem.code, f"{field} {problem.message}") from None

    def check_phone(self, phone: Phone) -> None:  # noqa: B027 - optional hook
        """Reject numbers the provider cannot serve; raise ``FieldProblem``."""

    @abstractmethod
    def credentials_from(self, secret: Mapping[str, Any]) -> Credentials:
        """Build credentials from the secret's JSON; raise ``TransientError`` if malformed."""

    def target_name(self, account_id: str, list_ref: ListRef) -> str:
        """``account#list``: with the default account (id = provider name) this is the
        ``provider#list`` prefix every ledger key has had."""
        return f"{account_id}#{list_ref.value}"


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
