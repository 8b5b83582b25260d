"""What the demo prints at the end: outcomes per provider from the ledger, retries,
dead-letter queue messages by error code, time taken, and whether every published
message is accounted for (a settled ledger item, or a message in the DLQ)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from optout_relay.domain.events import InvalidOptOut, parse_optout
from optout_relay.domain.model import InboundMessage, ledger_target
from optout_relay.errors import InvalidEvent
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from optout_relay_dev.cli.dead_letters import NO_CODE, DeadLetter
from optout_relay_dev.cli.event_reading import validation_providers
from optout_relay_dev.cli.ledger_view import SETTLED

OUTCOMES = ("unsubscribed", "not_subscribed", "rejected", "failed", "retrying")


@dataclass(frozen=True)
class Published:
    message_id: str
    body: str
    kind: str


@dataclass
class Accounting:
    published: int = 0
    settled: int = 0  # a settled ledger item (unsubscribed / not_subscribed)
    dead_lettered: int = 0  # in the dead-letter queue
    unaccounted: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unaccounted and self.settled + self.dead_lettered == self.published


@dataclass
class DemoReport:
    published: int
    outcomes: dict[str, Counter[str]]  # provider -> status -> ledger items
    ledger_items: int
    dead_letters: list[DeadLetter]
    accounting: Accounting
    provider_calls: dict[str, int]
    faults: Counter[str]
    extra_calls: int  # provider calls beyond the first for each target called
    redeliveries: int  # records SQS delivered again after a batch item failure
    queue_left: int
    seconds: dict[str, float]
    log_file: str
    seed: int
    fault_rate: float
    kinds: dict[str, int]

    @property
    def ok(self) -> bool:
        return self.accounting.complete and self.queue_left == 0

    def dead_letters_by_code(self) -> list[tuple[str, int, str, list[str]]]:
        """(error_code, count, an example reason, providers), most frequent first."""
        groups: dict[str, list[DeadLetter]] = {}
        for letter in self.dead_letters:
            groups.setdefault(letter.error_code or NO_CODE, []).append(letter)
        rows = []
        for code, letters in groups.items():
            providers = sorted({letter.provider or "no provider" for letter in letters})
            rows.append((code, len(letters), letters[0].reason, providers))
        return sorted(rows, key=lambda row: (-row[1], row[0]))

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "seed": self.seed,
            "fault_rate": self.fault_rate,
            "published": self.published,
            "kinds": self.kinds,
            "accounted_for": {
                "settled_in_ledger": self.accounting.settled,
                "in_dead_letter_queue": self.accounting.dead_lettered,
                "unaccounted": self.accounting.unaccounted,
            },
            "ledger": {
                "items": self.ledger_items,
                "by_provider": {p: dict(c) for p, c in sorted(self.outcomes.items())},
            },
            "dead_letter_queue": {
                "messages": len(self.dead_letters),
                "by_error_code": [
                    {"error_code": code, "messages": count, "reason": reason, "providers": providers}
                    for code, count, reason, providers in self.dead_letters_by_code()
                ],
            },
            "retries": {"extra_provider_calls": self.extra_calls, "sqs_redeliveries": self.redeliveries},
            "provider_calls": self.provider_calls,
            "injected_faults": dict(self.faults),
            "queue_messages_left": self.queue_left,
            "seconds": {name: round(value, 2) for name, value in self.seconds.items()},
            "log_file": self.log_file,
        }


LedgerKey = tuple[str, str]  # (phone_number, target)


def ledger_keys(published: Sequence[Published], default_region: str) -> dict[str, LedgerKey | None]:
    """Where each message's ledger item is, as the function computes it (``None``: the
    event has no valid phone number and provider, so it can have no ledger item)."""
    providers = validation_providers()
    keys: dict[str, LedgerKey | None] = {}
    for message in published:
        inbound = InboundMessage(message_id=message.message_id, body=message.body, receive_count=1)
        try:
            optout = parse_optout(inbound, providers, default_region)
        except InvalidOptOut as error:
            partial = error.partial
            keys[message.message_id] = (
                (
                    partial.phone.e164,
                    ledger_target(
                        partial.provider,
                        partial.list_ref.value if partial.list_ref else None,
                        partial.event_id,
                    ),
                )
                if partial.phone is not None and partial.provider is not None
                else None
            )
        except InvalidEvent:
            keys[message.message_id] = None
        else:
            keys[message.message_id] = (optout.phone.e164, optout.target)
    return keys


def account(
    published: Sequence[Published],
    keys: Mapping[str, LedgerKey | None],
    ledger: Mapping[LedgerKey, dict[str, Any]],
    dead_letters: Sequence[DeadLetter],
) -> Accounting:
    """Every published message must end as a settled ledger item or a DLQ message."""
    in_dlq = {letter.source_message_id for letter in dead_letters} | {
        letter.message_id for letter in dead_letters
    }
    accounting = Accounting(published=len(published))
    for message in published:
        if message.message_id in in_dlq:
            accounting.dead_lettered += 1
            continue
        key = keys.get(message.message_id)
        status = ledger[key].get("status") if key is not None and key in ledger else None
        if status in SETTLED:
            accounting.settled += 1
            continue
        why = (
            "no ledger item possible, and not in the DLQ"
            if key is None
            else f"ledger status {status or 'missing'}"
        )
        accounting.unaccounted.append({"message_id": message.message_id, "kind": message.kind, "why": why})
    return accounting


KIND_LABELS = {
    "subscribed": "subscribed at one provider",
    "both_providers": "events for numbers subscribed at both",
    "not_subscribed": "not subscribed",
    "duplicate": "duplicates of an earlier event",
    "invalid_phone": "invalid numbers",
    "unknown_list": "unknown Tatango list",
    "non_us_tatango": "non-US numbers for Tatango",
    "missing_list": "missing list",
    "invalid_json": "not JSON",
    "national_format": "in national format",
    "sns_wrapped": "SNS-wrapped",
}


def _kinds_text(kinds: Mapping[str, int]) -> str:
    parts = [f"{kinds[kind]} {label}" for kind, label in KIND_LABELS.items() if kinds.get(kind)]
    return "; ".join(parts)


OUTCOME_LABELS = {
    "unsubscribed": "unsubscribed",
    "not_subscribed": "not_subscribed (nothing to do)",
    "rejected": "rejected (sent to the DLQ)",
    "failed": "failed (retries exhausted, DLQ)",
    "retrying": "retrying",
}


def _outcome_table(report: DemoReport) -> Table:
    providers = sorted(report.outcomes)
    table = Table(title="Ledger outcomes (one item per event and provider target)", title_justify="left")
    table.add_column("status")
    for provider in providers:
        table.add_column(provider, justify="right")
    table.add_column("all", justify="right", style="bold")
    for outcome in OUTCOMES:
        counts = [report.outcomes[p][outcome] for p in providers]
        table.add_row(OUTCOME_LABELS[outcome], *(_count(c) for c in counts), _count(sum(counts)))
    table.add_section()
    totals = [sum(report.outcomes[p].values()) for p in providers]
    table.add_row("total", *(str(t) for t in totals), str(sum(totals)), style="bold")
    return table


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def _count(value: int) -> str:
    return str(value) if value else "·"


def _dead_letter_table(report: DemoReport) -> Table:
    table = Table(
        title=f"Dead-letter queue: {len(report.dead_letters)} messages, by error_code", title_justify="left"
    )
    table.add_column("error_code\nproviders", no_wrap=True)
    table.add_column("messages", justify="right")
    table.add_column("reason (one example)", overflow="fold")
    for code, count, reason, providers in report.dead_letters_by_code():
        table.add_row(Text.assemble(code, "\n", (", ".join(providers), "dim")), str(count), reason)
    return table


def render(report: DemoReport, console: Console) -> None:
    seconds = report.seconds
    calls = ", ".join(f"{name} {count}" for name, count in sorted(report.provider_calls.items()))
    faults = ", ".join(f"{kind} {count}" for kind, count in sorted(report.faults.items())) or "none"
    accounting = report.accounting
    lines: list[RenderableType] = [
        Text.assemble(("Published: ", "bold"), _kinds_text(report.kinds) + "."),
        Text(""),
        _outcome_table(report),
        Text(""),
        Text.assemble(
            ("Retries: ", "bold"),
            f"{_plural(report.extra_calls, 'extra provider call')} after transient faults, "
            f"{_plural(report.redeliveries, 'redelivery', 'redeliveries')} by SQS (batch item failures).\n",
            ("Provider calls: ", "bold"),
            f"{calls}; injected faults: {faults}.",
        ),
        Text(""),
        _dead_letter_table(report),
        Text(""),
    ]
    if report.ok:
        verdict = Text.assemble(
            ("✔ Every event accounted for: ", "bold green"),
            f"{accounting.published} published = {accounting.settled} settled in the ledger "
            f"+ {accounting.dead_lettered} in the dead-letter queue.",
        )
    else:
        verdict = Text.assemble(
            ("✘ Not every event is accounted for: ", "bold red"),
            f"{len(accounting.unaccounted)} of {accounting.published} are neither settled nor in the DLQ; "
            f"{report.queue_left} still in the queue.",
        )
        for missing in accounting.unaccounted[:10]:
            verdict.append(f"\n  {missing['message_id']} ({missing['kind']}): {missing['why']}")
    lines.append(verdict)
    lines.append(
        Text(
            f"Time: {seconds['total']:.1f} s (start {seconds['start']:.1f} s, "
            f"publish {seconds['publish']:.1f} s, drain {seconds['drain']:.1f} s, "
            f"report {seconds['report']:.1f} s). "
            f"Handler logs and EMF metrics: {report.log_file}",
            style="dim",
        )
    )
    title = (
        f"optout-relay demo: {report.published} opt-outs, seed {report.seed}, "
        f"fault rate {report.fault_rate:.0%}"
    )
    console.print(Panel(Group(*lines), title=title, title_align="left", expand=False))
