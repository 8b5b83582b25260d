"""Whether every message the demo published is accounted for, and how its fan-outs ended.

For each message, what the relay must have done, worked out with the CLI's reading of
the event (the function's parser) and ``select_targets`` on the targets document the
demo applied: a message that is invalid, or whose scope selects nothing, is in the
dead-letter queue whole; every other one has one outcome per target, each settled in
the ledger (``unsubscribed``, ``not_subscribed``) or in the DLQ as a message naming that
target (a permanent failure there). A fan-out (everywhere, provider scope) also has a
summary item that must count every target it selected, all of them settled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from optout_relay.domain.model import InboundMessage, target_id
from optout_relay.domain.targets import TargetsDocument
from optout_relay.errors import InvalidEvent

from optout_relay_dev.cli.dead_letters import DeadLetter
from optout_relay_dev.cli.event_reading import ReadEvent, declared_scope, read_event
from optout_relay_dev.cli.ledger_view import SETTLED

LedgerKey = tuple[str, str]  # (phone_number, sort key)


@dataclass(frozen=True)
class Published:
    message_id: str
    body: str
    kind: str


@dataclass(frozen=True)
class Expected:
    """Where one published message's outcome must be."""

    message: Published
    event: ReadEvent | None = None  # None: the function refuses the message whole
    targets: tuple[str, ...] = ()  # ``<account>#<list>`` of every target it selects
    refusal: str = ""  # why the message must be in the DLQ whole
    scope: str | None = None  # a fan-out's scope (everywhere, provider), also when refused

    def target_keys(self) -> list[LedgerKey]:
        if self.event is None:
            return []
        return [(self.event.phone.e164, self.event.ledger_key(name)) for name in self.targets]

    @property
    def summary_key(self) -> LedgerKey | None:
        if self.event is None or not self.event.fan_out:
            return None
        return (self.event.phone.e164, self.event.summary_key)


def expectations(
    published: Sequence[Published], document: TargetsDocument, default_region: str
) -> list[Expected]:
    expected = []
    for message in published:
        inbound = InboundMessage(message_id=message.message_id, body=message.body, receive_count=1)
        scope = declared_scope(message.body)
        try:
            event = read_event(inbound, default_region)
            targets = tuple(target.name for target in event.targets(document))
        except InvalidEvent as error:  # NoTargets too: the scope selects nothing
            expected.append(Expected(message, refusal=error.code, scope=scope))
        else:
            expected.append(Expected(message, event, targets, scope=scope if event.fan_out else None))
    return expected


def keys_to_read(expected: Iterable[Expected]) -> tuple[set[LedgerKey], set[LedgerKey]]:
    """The target rows and the summary items the accounting reads."""
    targets: set[LedgerKey] = set()
    summaries: set[LedgerKey] = set()
    for item in expected:
        targets.update(item.target_keys())
        if item.summary_key is not None:
            summaries.add(item.summary_key)
    return targets, summaries


@dataclass
class FanOut:
    event_id: str
    scope: str
    purposes: tuple[str, ...]
    targets: int  # selected with the document the demo applied
    outcomes: Counter[str]  # per target: ledger status, or dead_lettered
    summary: dict[str, Any] | None
    refused: str = ""  # the error code, when the whole event was dead-lettered

    @property
    def complete(self) -> bool:
        """The summary counts every selected target, all settled (a final outcome)."""
        summary = self.summary or {}
        return (
            self.summary is not None
            and int(summary.get("targets", -1)) == self.targets
            and int(summary.get("settled", -1)) == self.targets
            and bool(summary.get("completed_at"))
        )

    def to_json(self) -> dict[str, Any]:
        summary = self.summary or {}
        return {
            "event_id": self.event_id,
            "scope": self.scope,
            "purposes": list(self.purposes),
            "targets": self.targets,
            "outcomes": dict(self.outcomes),
            "complete": self.complete,
            "refused": self.refused or None,
            "summary": {
                name: summary.get(name)
                for name in ("targets", "settled", "document_version", "completed_at", "last_settled_at")
            }
            if self.summary
            else None,
        }


@dataclass
class Accounting:
    published: int = 0
    settled: int = 0  # every target settled in the ledger
    dead_lettered: int = 0  # in the DLQ, whole or at one or more of its targets
    targets_settled: int = 0
    targets_dead_lettered: int = 0
    fan_outs: list[FanOut] = field(default_factory=list)
    unaccounted: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unaccounted and self.settled + self.dead_lettered == self.published

    @property
    def fan_outs_complete(self) -> int:
        return sum(1 for fan_out in self.fan_outs if fan_out.complete)


def _dead_letters_by_message(
    dead_letters: Sequence[DeadLetter],
) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """Message id -> error code of those dead-lettered whole; (message id, target id) of
    those dead-lettered at one target."""
    whole: dict[str, str] = {}
    at_target: set[tuple[str, str]] = set()
    for letter in dead_letters:
        for message_id in {letter.source_message_id, letter.message_id}:
            if letter.target_id:
                at_target.add((message_id, letter.target_id))
            else:
                whole[message_id] = letter.error_code or "?"
    return whole, at_target


def _target_outcomes(
    item: Expected, rows: Mapping[LedgerKey, dict[str, Any]], at_target: set[tuple[str, str]]
) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for name, key in zip(item.targets, item.target_keys(), strict=True):
        status = rows.get(key, {}).get("status")
        if status in SETTLED:
            outcomes[str(status)] += 1
        elif (item.message.message_id, target_id(name)) in at_target:
            outcomes["dead_lettered"] += 1
        else:
            outcomes[f"missing ({status or 'no row'})"] += 1
    return outcomes


def account(
    expected: Sequence[Expected],
    rows: Mapping[LedgerKey, dict[str, Any]],
    summaries: Mapping[LedgerKey, dict[str, Any]],
    dead_letters: Sequence[DeadLetter],
) -> Accounting:
    """Every published message must end settled in the ledger or in the DLQ (whole, or at
    each target not settled), and every fan-out complete."""
    whole, at_target = _dead_letters_by_message(dead_letters)
    accounting = Accounting(published=len(expected))
    for item in expected:
        message = item.message
        if message.message_id in whole:
            accounting.dead_lettered += 1
            if item.scope is not None:  # a fan-out refused whole: counted, never complete
                event_id = item.event.event_id if item.event else message.message_id
                code = whole[message.message_id]
                accounting.fan_outs.append(FanOut(event_id, item.scope, (), 0, Counter(), None, code))
            continue
        if item.event is None:
            _missing(accounting, message, f"refused by the function ({item.refusal}), and not in the DLQ")
            continue
        outcomes = _target_outcomes(item, rows, at_target)
        accounting.targets_settled += sum(outcomes[status] for status in SETTLED)
        accounting.targets_dead_lettered += outcomes["dead_lettered"]
        fan_out = _fan_out(item, outcomes, summaries)
        problems = [
            f"{n} target(s) {what}" for what, n in sorted(outcomes.items()) if what.startswith("missing")
        ]
        if fan_out is not None:
            accounting.fan_outs.append(fan_out)
            if not fan_out.complete:
                problems.append(f"fan-out not complete (summary: {fan_out.to_json()['summary']})")
        if problems:
            _missing(accounting, message, "; ".join(problems))
        elif outcomes["dead_lettered"]:
            accounting.dead_lettered += 1
        else:
            accounting.settled += 1
    return accounting


def _fan_out(
    item: Expected, outcomes: Counter[str], summaries: Mapping[LedgerKey, dict[str, Any]]
) -> FanOut | None:
    event, key = item.event, item.summary_key
    if event is None or key is None:
        return None
    return FanOut(
        event_id=event.event_id,
        scope=event.scope.kind.value,
        purposes=tuple(sorted(event.scope.purposes)),
        targets=len(item.targets),
        outcomes=outcomes,
        summary=summaries.get(key),
    )


def _missing(accounting: Accounting, message: Published, why: str) -> None:
    accounting.unaccounted.append({"message_id": message.message_id, "kind": message.kind, "why": why})
