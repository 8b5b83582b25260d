"""What the relay learns before a batch's records run: each message parsed once, each
opt-out's targets chosen once (from the targets document version its fan-out started
with), and every target's ledger status read in shared round trips. Whatever fails here
is left to each record's own handling."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from optout_relay.domain.events import OptOutRequest
from optout_relay.domain.model import InboundMessage, OptOut, Status, target_id
from optout_relay.domain.ports import Ledger
from optout_relay.domain.targets import Account, TargetsDocument, TargetsSource, select_targets
from optout_relay.errors import InvalidEvent, PermanentError, RelayError
from optout_relay.observability import logger

ParseResult = OptOutRequest | InvalidEvent
Key = tuple[str, str]


@dataclass(frozen=True)
class Plan:
    """The targets one opt-out reaches, and from which document version."""

    request: OptOutRequest
    document_version: int
    targets: tuple[tuple[OptOut, Account], ...]

    @property
    def keys(self) -> list[Key]:
        return [optout.ledger_key for optout, _ in self.targets]

    def only(self, chosen_id: str) -> Plan:
        """A redriven message retries exactly the target its dead letter named (``target_id``)."""
        chosen = tuple(pair for pair in self.targets if target_id(pair[0].short_target) == chosen_id)
        if not chosen:
            raise PermanentError(
                "no_matching_targets",
                f"the target of this redriven message ({chosen_id}) is not in targets document "
                f"version {self.document_version}",
            )
        return Plan(self.request, self.document_version, chosen)


@dataclass
class Planner:
    targets: TargetsSource
    ledger: Ledger

    def plans(self, requests: Mapping[str, OptOutRequest]) -> dict[str, Plan | RelayError]:
        """A plan per message id; a fan-out keeps the document version it started with."""
        fanning = {(r.phone.e164, r.event_id) for r in requests.values() if r.fans_out}
        versions = self.ledger.document_versions(sorted(fanning)) if fanning else {}
        documents: dict[int | None, TargetsDocument] = {}
        plans: dict[str, Plan | RelayError] = {}
        for message_id, request in requests.items():
            version = versions.get((request.phone.e164, request.event_id)) if request.fans_out else None
            try:
                if version not in documents:
                    documents[version] = self._document(version)
                plans[message_id] = _plan(request, documents[version])
            except RelayError as error:  # NoTargets, or the store unavailable
                plans[message_id] = error
        return plans

    def _document(self, version: int | None) -> TargetsDocument:
        if version is None:
            return self.targets.current()
        document = self.targets.version(version)
        if document is None:
            logger.warning(
                "The fan-out's targets document version is gone; using the one in force",
                extra={"document_version": version},
            )
            return self.targets.current()
        return document


def _plan(request: OptOutRequest, document: TargetsDocument) -> Plan:
    targets = tuple(
        (
            OptOut(
                event_id=request.event_id,
                provider=target.provider,
                phone=request.phone,
                list_ref=target.list_ref,
                occurred_at=request.occurred_at,
                source=request.source,
                account=target.account.id,
                target_name=target.name,
            ),
            target.account,
        )
        for target in select_targets(document, request.scope)
    )
    return Plan(request, document.version, targets)


@dataclass
class PreparedBatch:
    # message id -> (the body that was parsed, what it parsed to)
    parsed: Mapping[str, tuple[str, ParseResult]] = field(default_factory=dict)
    plans: Mapping[str, Plan | RelayError] = field(default_factory=dict)
    # (phone number, target) -> the strongest status recorded, None when none
    statuses: Mapping[Key, Status | None] = field(default_factory=dict)
    # A target two deliveries in this batch share: the first calls, the second waits for it.
    _in_flight: dict[Key, Future[Any]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def parsed_for(self, message: InboundMessage) -> ParseResult | None:
        found = self.parsed.get(message.message_id)
        return found[1] if found is not None and found[0] == message.body else None

    def plan_for(self, message: InboundMessage) -> Plan | RelayError | None:
        return self.plans.get(message.message_id) if self.parsed_for(message) is not None else None

    def provider_of(self, message: InboundMessage) -> str | None:
        parsed = self.parsed_for(message)
        return parsed.scope.provider if isinstance(parsed, OptOutRequest) else None

    def statuses_of(self, keys: Iterable[Key], ledger: Ledger) -> dict[Key, Status | None]:
        """From the batch's read, and (for what it could not read) one consistent read now."""
        wanted = list(keys)
        missing = [key for key in wanted if key not in self.statuses]
        found = ledger.statuses(missing) if missing else {}
        return {key: self.statuses[key] if key in self.statuses else found.get(key) for key in wanted}

    def claim(self, key: Key) -> tuple[bool, Future[Any]]:
        """(True, a future to complete) for the first delivery of a target in this batch;
        (False, the first one's future) for any other."""
        with self._lock:
            if key in self._in_flight:
                return False, self._in_flight[key]
            future: Future[Any] = Future()
            self._in_flight[key] = future
            return True, future
