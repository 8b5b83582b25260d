"""What the domain needs to know about a provider without calling it: the port that
``providers.contract.ProviderContract`` implements. The domain never imports providers."""

from __future__ import annotations

from typing import Protocol

from optout_relay.domain.model import ListRef, Phone


class FieldProblem(Exception):
    """A provider-specific field of the event is missing or invalid."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ProviderRules(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def list_field(self) -> str:
        """The field that names a list: ``list_number``, ``list_id``."""

    def parse_list_value(self, value: object, default_region: str) -> ListRef:
        """Validate one list reference; raise ``FieldProblem`` with a message that does not
        repeat the field name (callers say where the value was)."""

    def check_phone(self, phone: Phone) -> None:
        """Raise ``FieldProblem`` for a number the provider cannot serve."""

    def target_name(self, account_id: str, list_ref: ListRef) -> str:
        """How one (account, list) target is named in the ledger and the dead-letter queue."""
