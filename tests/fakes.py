"""In-memory fakes of the relay's ports, for logic tests without AWS or HTTP."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from optout_relay.aws.ledger_items import strength
from optout_relay.domain.model import (
    CallResult,
    Credentials,
    FanOutSummary,
    InboundMessage,
    LedgerEntry,
    ListRef,
    Phone,
    Status,
)
from optout_relay.domain.targets import Account
from optout_relay.domain.timestamps import parse_utc
from optout_relay.errors import RelayError, TransientError
from optout_relay.providers.base import FieldProblem, ProviderAdapter, require_secret_fields
from optout_relay.providers.http import HttpClient


class InMemoryLedger:
    """Same rules as the DynamoDB ledger: a target's status is the strongest recorded (no
    failure or duplicate hides a success), attempts add up, and a write applied once is not
    applied again. ``failures`` and ``read_failures``: errors the next writes (reads) raise."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.summaries: dict[tuple[str, str], FanOutSummary] = {}
        self.batch_reads = 0
        self.submissions: list[int] = []  # entries per ``record_all``
        self.failures: list[Exception] = []
        self.read_failures: list[Exception] = []
        self.applied: set[str] = set()
        self.echoes: list[tuple[str, str, str, str]] = []
        self.now = "2026-12-01T12:00:00.000Z"  # what ``settled_at`` reads

    def statuses(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Status | None]:
        self.batch_reads += 1
        if self.read_failures:
            raise self.read_failures.pop(0)
        return {key: Status(self.items[key]["status"]) if key in self.items else None for key in keys}

    def document_versions(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return {key: self.summaries[key].document_version for key in keys if key in self.summaries}

    def record_summary(self, summary: FanOutSummary) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.summaries[(summary.phone_number, summary.event_id)] = summary

    def unsubscribed_near(
        self, phone_number: str, provider: str, list_value: str, moment: str, seconds: float
    ) -> str | None:
        center = parse_utc(moment)
        for (phone, _), item in self.items.items():
            settled = item.get("settled_at")
            if (
                phone == phone_number
                and item["status"] == Status.UNSUBSCRIBED
                and item["provider"] == provider
                and item.get(item.get("list_field") or "list_number") == list_value
                and settled
                and abs((parse_utc(settled) - center).total_seconds()) <= seconds
            ):
                return str(item["event_id"])
        return None

    def record_echo(self, phone_number: str, event_id: str, echo_of: str, origin: str) -> None:
        self.echoes.append((phone_number, event_id, echo_of, origin))

    def record(self, entry: LedgerEntry) -> bool:
        if self.failures:
            raise self.failures.pop(0)
        if entry.write_id in self.applied:
            return False
        self.applied.add(entry.write_id)
        key = (entry.phone_number, entry.target)
        item = self.items.setdefault(key, {"attempts": 0, "status": None})
        item["attempts"] += entry.attempts_added
        if strength(entry.status) >= strength(item["status"]):
            item.update(
                phone_number=entry.phone_number,
                target=entry.target,
                event_id=entry.event_id,
                provider=entry.provider,
                account=entry.account,
                status=entry.status.value,
                http_status=entry.http_status,
                error_code=entry.error_code,
                error_message=entry.error_message,
                occurred_at=entry.occurred_at,
                source=entry.source,
                receive_count=entry.receive_count,
                evidence=dict(entry.evidence),
            )
            if entry.list_field:
                item[entry.list_field] = entry.list_value
                item["list_field"] = entry.list_field
            if entry.status is Status.UNSUBSCRIBED:
                item["settled_at"] = self.now
        return True

    def record_all(self, entries: Sequence[LedgerEntry]) -> list[TransientError | None]:
        self.submissions.append(len(entries))
        results: list[TransientError | None] = []
        for entry in entries:
            try:
                self.record(entry)
            except TransientError as error:
                results.append(error)
            else:
                results.append(None)
        return results

    def only(self) -> dict[str, Any]:
        assert len(self.items) == 1, self.items
        return next(iter(self.items.values()))


@dataclass
class RecordingDeadLetters:
    sent: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)

    def send(
        self, message: InboundMessage, error_code: str, error_message: str, extra: Mapping[str, str]
    ) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(
            {
                "body": message.body,
                "error_code": error_code,
                "error_message": error_message,
                **extra,
            }
        )


@dataclass
class FakeSecrets:
    values: dict[str, dict[str, Any]]
    fetches: list[tuple[str, bool]] = field(default_factory=list)
    rotated: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, secret_id: str, *, refresh: bool = False) -> Mapping[str, Any]:
        self.fetches.append((secret_id, refresh))
        if refresh and secret_id in self.rotated:
            self.values[secret_id] = self.rotated.pop(secret_id)
        return self.values[secret_id]


@dataclass
class RecordingSourceQueue:
    deferred: list[tuple[str, float]] = field(default_factory=list)
    requeued: list[tuple[str, int, str]] = field(default_factory=list)
    prior_receives: list[int] = field(default_factory=list)
    carried: list[str | None] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)

    def defer(self, message: InboundMessage, seconds: float) -> None:
        self.deferred.append((message.message_id, seconds))

    def requeue(
        self,
        message: InboundMessage,
        delay_seconds: int,
        event_id: str,
        *,
        confirmation: str | None = None,
        prior_receives: int = 0,
    ) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.requeued.append((message.message_id, delay_seconds, event_id))
        self.carried.append(confirmation)
        self.prior_receives.append(prior_receives)


@dataclass
class ScriptedBudget:
    """Answers ``take`` from a script of waits (0.0 grants); records shrink calls."""

    waits: list[float] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)
    waited: list[bool] = field(default_factory=list)
    shrunk: list[tuple[str, float, float]] = field(default_factory=list)

    def take(self, provider: str, rate_per_second: float, *, waited: bool = False) -> float:
        self.taken.append(provider)
        self.waited.append(waited)
        return self.waits.pop(0) if self.waits else 0.0

    def shrink(self, provider: str, factor: float, seconds: float) -> None:
        self.shrunk.append((provider, factor, seconds))


class ScriptedProvider(ProviderAdapter):
    """A provider whose answers are scripted: each call pops a CallResult or raises an error."""

    name = "trackly"
    default_base_url = "https://trackly.invalid"
    list_field = "list_number"

    def __init__(self, *answers: CallResult | RelayError) -> None:
        super().__init__(self.default_base_url, HttpClient(timeout_seconds=1))
        self.answers = list(answers)
        self.calls: list[tuple[str, str, str]] = []
        self.accounts: list[str] = []
        self._lock = threading.Lock()

    def parse_list_value(self, value: object, default_region: str) -> ListRef:
        if not isinstance(value, str) or not value:
            raise FieldProblem("schema_violation", "must be a non-empty string")
        return ListRef("list_number", value)

    def client_for(self, account: Account) -> ScriptedProvider:
        """Also ``AccountClients``: every account calls this one provider."""
        self.accounts.append(account.id)
        return self

    def credentials_from(self, secret: Mapping[str, Any]) -> Credentials:
        (api_key,) = require_secret_fields(self.name, secret, "api_key")
        return Credentials(api_key=api_key)

    def unsubscribe(self, phone: Phone, list_ref: ListRef, credentials: Credentials) -> CallResult:
        with self._lock:
            self.calls.append((phone.e164, list_ref.value, credentials.api_key))
            answer = self.answers.pop(0) if self.answers else CallResult(Status.UNSUBSCRIBED, 200)
        if isinstance(answer, RelayError):
            raise answer
        return answer
