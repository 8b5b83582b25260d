"""What the CLI reads of an opt-out event, whatever its scope, with the relay's own parser.

Every CLI path that reads an event body (publish, seeding, dead letters, invoke, the
demo's accounting) comes through ``read_event``: the function's ``parse_optout`` with the
provider registry decides what is valid and normalises it, and ``ReadEvent`` is the one
shape the CLI works with, a ``Scope`` (``domain/targets.py``) for which lists it reaches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from optout_relay.aws.ledger_items import summary_key
from optout_relay.domain.events import OptOutRequest, parse_optout, unwrap_envelope
from optout_relay.domain.model import InboundMessage
from optout_relay.domain.targets import ScopeKind, Target, TargetsDocument, select_targets
from optout_relay.errors import InvalidEvent
from optout_relay.providers.base import ProviderAdapter
from optout_relay.providers.http import HttpClient
from optout_relay.providers.registry import PROVIDERS

SUMMARY_PREFIX = summary_key("")  # the sort key of a fan-out's summary item, before its event id


@cache
def validation_providers() -> Mapping[str, ProviderAdapter]:
    """Adapters for their validation rules only: nothing is called (built once)."""
    http = HttpClient(timeout_seconds=1)
    return MappingProxyType(
        {name: adapter(adapter.default_base_url, http) for name, adapter in PROVIDERS.items()}
    )


@dataclass(frozen=True)
class ReadEvent(OptOutRequest):
    """A valid event as the CLI sees it: the function's own reading, and what the CLI does with it."""

    @property
    def fan_out(self) -> bool:
        """An event that reaches every list of a scope (it has a summary item in the ledger)."""
        return self.fans_out

    @property
    def body(self) -> dict[str, Any]:
        """The SQS message body: the event contract, normalised (E.164 numbers, lower-case
        purposes), so the function reads exactly what was validated."""
        scope = self.scope
        body: dict[str, Any] = {}
        if self.fan_out:
            body["scope"] = scope.kind.value
        if scope.provider is not None:
            body["provider"] = scope.provider
        body["phone_number"] = self.phone.e164
        if scope.list_ref is not None:
            body[scope.list_ref.field] = json_list_value(scope.list_ref.value)
        if scope.account is not None:
            body["account"] = scope.account
        if scope.purposes:
            body["purposes"] = sorted(scope.purposes)
        body["event_id"] = self.event_id
        if self.occurred_at:
            body["occurred_at"] = self.occurred_at
        if self.source:
            body["source"] = self.source
        return body

    def describe(self) -> str:
        """``tatango 4242``, ``everywhere``, ``tatango (account tatango-b) for marketing``."""
        scope = self.scope
        if scope.list_ref is not None:
            text = f"{scope.provider} {scope.list_ref.value}"
        elif scope.kind is ScopeKind.EVERYWHERE:
            text = "everywhere"
        else:
            text = f"every {scope.provider} list"
        if scope.account is not None:
            text += f" (account {scope.account})"
        if scope.purposes:
            text += f" for {', '.join(sorted(scope.purposes))}"
        return text

    def targets(self, document: TargetsDocument) -> tuple[Target, ...]:
        """The targets the relay selects for this event with ``document``; raises ``NoTargets``."""
        return select_targets(document, self.scope)

    def ledger_key(self, target_name: str) -> str:
        """The sort key of this event's row for one target (``<account>#<list>``)."""
        return f"{target_name}#{self.event_id}"

    @property
    def summary_key(self) -> str:
        return f"{SUMMARY_PREFIX}{self.event_id}"


def json_list_value(value: str) -> str | int:
    """A list reference of plain digits travels as a JSON number, as producers send ids."""
    return int(value) if value.isascii() and value.isdigit() and not value.startswith("0") else value


def read_event(message: InboundMessage, default_region: str) -> ReadEvent:
    """The message as a ``ReadEvent``; raises ``InvalidEvent`` (``InvalidOptOut`` with what
    could be read) exactly when the function would refuse it."""
    optout = parse_optout(message, validation_providers(), default_region)
    return ReadEvent(
        event_id=optout.event_id,
        phone=optout.phone,
        scope=optout.scope,
        occurred_at=optout.occurred_at,
        source=optout.source,
        origin=optout.origin,
    )


def declared_scope(body: str) -> str | None:
    """The ``scope`` a body declares, read without validating anything else."""
    scope = _raw(body).get("scope")
    return scope if isinstance(scope, str) else None


def _raw(body: str) -> Mapping[str, Any]:
    try:
        return unwrap_envelope(body)
    except InvalidEvent:
        return {}
