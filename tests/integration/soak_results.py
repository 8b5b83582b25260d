"""What a soak run left behind, and the questions the soak's tests ask of it."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from optout_relay_dev.simulators import RecordedCall, TatangoSimulator, TracklySimulator

from tests.integration.soak_workload import Event, Expect, Workload


@dataclass(frozen=True)
class Invocation:
    message_ids: frozenset[str]
    start: float  # wall clock, shared by the processes of one machine
    end: float


@dataclass
class Worker:
    returncode: int
    stderr: str
    records: int
    function_errors: list[str]  # exception class of each invocation that raised
    invocations: list[Invocation]
    log_lines: list[dict[str, Any]]


@dataclass(frozen=True)
class DeadLetter:
    error_code: str | None
    source_message_id: str | None
    event_id: str | None  # the attribute the function sets
    body: str
    attributes: dict[str, str | None]


@dataclass
class SoakRun:
    work: Workload
    trackly: TracklySimulator
    tatango: TatangoSimulator
    published: dict[str, Event] = field(default_factory=dict)  # message id -> its event
    workers: list[Worker] = field(default_factory=list)
    ledger: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    queue_left: int = -1
    rotated: list[str] = field(default_factory=list)
    secrets: dict[str, Any] = field(default_factory=dict)  # the secrets' values at the end

    def events(self, *expects: Expect) -> list[Event]:
        return [event for event in self.work.events if event.expect in expects]

    def event_of(self, letter: DeadLetter) -> Event | None:
        return next((event for body, event in self.work.bodies if body == letter.body), None)

    def status_of(self, event: Event) -> str | None:
        item = self.ledger.get(event.ledger_key)
        return str(item["status"]) if item else None

    def still_subscribed(self, provider: str, list_value: str, phone: str) -> bool:
        if provider == "trackly":
            return self.trackly.is_subscribed(list_value, phone)
        return self.tatango.is_subscribed(list_value, phone)

    def calls_for(self, event: Event) -> list[RecordedCall]:
        """The calls that reached the event's provider for its number and list, in arrival order."""
        if event.provider == "trackly":
            wanted = {"phone_number": event.phone, "list_number": event.list_value}
            calls = [call for call in self.trackly.calls if parse_json(call.body) == wanted]
        else:
            path = f"/api/v2/lists/{event.list_value}/subscribers/{event.phone.removeprefix('+1')}"
            calls = [call for call in self.tatango.calls if call.path == path]
        return sorted(calls, key=lambda call: call.at)

    def delivered_concurrently(self, event: Event) -> bool:
        """Whether two deliveries of this event were handled at the same time: copies of it in
        one batch or in overlapping invocations, or one message received again when a batch
        outlived the (compressed) visibility timeout."""
        ids = {message_id for message_id, sent in self.published.items() if sent is event}
        handling = [
            invocation
            for worker in self.workers
            for invocation in worker.invocations
            if invocation.message_ids & ids
        ]
        if any(len(invocation.message_ids & ids) > 1 for invocation in handling):
            return True
        spans = sorted((invocation.start, invocation.end) for invocation in handling)
        return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))

    def error_codes_logged(self, event: Event) -> set[str]:
        return {
            str(line["error_code"])
            for worker in self.workers
            for line in worker.log_lines
            if line.get("event_id") == event.event_id and line.get("error_code")
        }


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # the soak's own bodies include a 50,000-deep one
        return None
