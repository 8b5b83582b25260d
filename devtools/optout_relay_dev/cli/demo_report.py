"""What the demo prints at the end: outcomes per provider and account from the ledger,
the fan-outs (targets per event, how many complete), retries, dead-letter queue messages
by error code, time taken, and whether every published message is accounted for
(``demo_accounting``: settled in the ledger, or in the DLQ)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from optout_relay_dev.cli.dead_letters import NO_CODE, DeadLetter
from optout_relay_dev.cli.demo_accounting import Accounting, FanOut

OUTCOMES = ("unsubscribed", "not_subscribed", "rejected", "failed", "retrying")
WEBHOOK_OUTCOMES = {
    "published": "WebhookPublished",
    "echoes": "WebhookEcho",
    "ignored": "WebhookIgnored",
    "refused": "WebhookUnauthorized",
    "unavailable": "WebhookPublishFailed",
}


def webhook_counts(texted: int, counts: Mapping[tuple[str, str], int]) -> dict[str, int]:
    """STOPs texted at the simulators, and what the receiver did with the webhooks it got."""
    found = {"texted_stops": texted}
    for name, metric in WEBHOOK_OUTCOMES.items():
        found[name] = sum(n for (_, counted), n in counts.items() if counted == metric)
    return found


@dataclass
class DemoReport:
    published: int
    outcomes: dict[str, Counter[str]]  # provider -> status -> target rows
    by_account: dict[str, Counter[str]]  # account -> status -> target rows
    ledger_items: int
    document: dict[str, int]  # the targets document applied: version, accounts, lists
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
    webhooks: dict[str, int] = field(default_factory=dict)  # webhook_counts
    # The deadline picture of the run, judged as the audit report judges (``cli/audit.py``).
    deadlines: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.accounting.complete and self.queue_left == 0

    def dead_letters_by_code(self) -> list[tuple[str, int, str, list[str]]]:
        """(error_code, count, an example reason, where: accounts or providers), most frequent first."""
        groups: dict[str, list[DeadLetter]] = {}
        for letter in self.dead_letters:
            groups.setdefault(letter.error_code or NO_CODE, []).append(letter)
        rows = []
        for code, letters in groups.items():
            providers = sorted(
                {letter.account or letter.provider or letter.scope or "?" for letter in letters}
            )
            rows.append((code, len(letters), letters[0].reason, providers))
        return sorted(rows, key=lambda row: (-row[1], row[0]))

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "deadlines": self.deadlines,
            "seed": self.seed,
            "fault_rate": self.fault_rate,
            "published": self.published,
            "kinds": self.kinds,
            "accounted_for": {
                "settled_in_ledger": self.accounting.settled,
                "in_dead_letter_queue": self.accounting.dead_lettered,
                "unaccounted": self.accounting.unaccounted,
                "targets_settled": self.accounting.targets_settled,
                "targets_dead_lettered": self.accounting.targets_dead_lettered,
            },
            "targets_document": self.document,
            "fan_outs": {
                "events": len(self.accounting.fan_outs),
                "complete": self.accounting.fan_outs_complete,
                "events_by_scope": dict(Counter(f.scope for f in self.accounting.fan_outs)),
                "each": [fan_out.to_json() for fan_out in self.accounting.fan_outs],
            },
            "ledger": {
                "items": self.ledger_items,
                "by_provider": {p: dict(c) for p, c in sorted(self.outcomes.items())},
                "by_account": {a: dict(c) for a, c in sorted(self.by_account.items())},
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
            "webhooks": self.webhooks,
            "queue_messages_left": self.queue_left,
            "seconds": {name: round(value, 2) for name, value in self.seconds.items()},
            "log_file": self.log_file,
        }


KIND_LABELS = {
    "subscribed": "subscribed on one list",
    "both_providers": "events for numbers subscribed at two providers",
    "not_subscribed": "not subscribed",
    "everywhere": "everywhere-events",
    "provider_scope": "provider-scope events",
    "named_account": "naming their account",
    "duplicate": "duplicates of an earlier event",
    "invalid_phone": "invalid numbers",
    "unknown_list": "lists in no account",
    "unsupported_region": "numbers a provider does not serve",
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
    table = Table(title="Ledger outcomes (one row per event and target)", title_justify="left")
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
    table.add_column("error_code\naccounts", no_wrap=True)
    table.add_column("messages", justify="right")
    table.add_column("reason (one example)", overflow="fold")
    for code, count, reason, providers in report.dead_letters_by_code():
        table.add_row(Text.assemble(code, "\n", (", ".join(providers), "dim")), str(count), reason)
    return table


def _fan_out_table(report: DemoReport) -> RenderableType:
    fan_outs = report.accounting.fan_outs
    document = report.document
    where = (
        f"targets document version {document.get('version', 0)}: "
        f"{document.get('accounts', 0)} accounts, {document.get('lists', 0)} lists"
    )
    if not fan_outs:
        return Text(f"Fan-outs: none in this run ({where}).")
    groups: dict[str, list[FanOut]] = {}
    for fan_out in fan_outs:
        label = fan_out.scope + (f"\n· {', '.join(fan_out.purposes)}" if fan_out.purposes else "")
        groups.setdefault(label, []).append(fan_out)
    table = Table(
        title=f"Fan-outs: {len(fan_outs)} events, {report.accounting.fan_outs_complete} complete ({where})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("scope\n· purposes", no_wrap=True)
    for name in (
        "events",
        "targets\neach",
        "unsub-\nscribed",
        "not sub-\nscribed",
        "in the\nDLQ",
        "complete",
    ):
        table.add_column(name, justify="right")
    for label, group in sorted(groups.items()):
        sizes = sorted({fan_out.targets for fan_out in group if not fan_out.refused}) or [0]
        outcomes: Counter[str] = sum((fan_out.outcomes for fan_out in group), Counter())
        refused = sum(1 for fan_out in group if fan_out.refused)
        complete = f"{sum(1 for fan_out in group if fan_out.complete)}/{len(group)}"
        table.add_row(
            label,
            str(len(group)),
            str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]} to {sizes[-1]}",
            _count(outcomes["unsubscribed"]),
            _count(outcomes["not_subscribed"]),
            _count(outcomes["dead_lettered"]),
            complete + (f"\n{refused} refused" if refused else ""),
        )
    return table


def _webhooks_text(report: DemoReport) -> Text:
    hooks = report.webhooks
    text = Text.assemble(
        ("Webhooks: ", "bold"),
        f"{_plural(hooks.get('texted_stops', 0), 'STOP')} texted at the simulators; the receiver "
        f"published {_plural(hooks.get('published', 0), 'everywhere-event')} (fan-outs above) and "
        f"recognised {_plural(hooks.get('echoes', 0), 'echo', 'echoes')} of the relay's own "
        "unsubscribes (not republished).",
    )
    extra = hooks.get("published", 0) - hooks.get("texted_stops", 0)
    if extra > 0:
        text.append(
            f" {_plural(extra, 'more came', 'more came')} from unsubscribes whose answer the relay did "
            "not get (a call that timed out): published to be safe."
        )
    return text


def _from_webhooks(report: DemoReport) -> str:
    extra = report.accounting.published - report.published
    return f" + {extra} from webhooks" if extra else ""


def _accounts_text(report: DemoReport) -> Text:
    parts = [f"{name} {sum(counts.values())}" for name, counts in sorted(report.by_account.items())]
    return Text.assemble(("Target outcomes by account: ", "bold"), ", ".join(parts) + ".")


def _deadline_text(report: DemoReport) -> Text:
    picture = report.deadlines
    if not picture:
        return Text("Deadlines: none recorded.", style="dim")
    text = Text.assemble(
        ("Deadlines: ", "bold"),
        f"{picture['received']} opt-outs received, due by {picture['due_by']} (ten US business days); "
        f"{picture['complete_within_deadline']} complete within the deadline, "
        f"{picture['complete_late']} complete late, {picture['open']} open, {picture['overdue']} overdue. ",
        (f"The audit report of the run: {picture['report_csv']} ", "dim"),
        (
            "(`optout-relay report --from today --to today --format csv` against `optout-relay local up`).",
            "dim",
        ),
    )
    return text


def render(report: DemoReport, console: Console) -> None:
    seconds = report.seconds
    calls = ", ".join(f"{name} {count}" for name, count in sorted(report.provider_calls.items()))
    faults = ", ".join(f"{kind} {count}" for kind, count in sorted(report.faults.items())) or "none"
    accounting = report.accounting
    lines: list[RenderableType] = [
        Text.assemble(("Published: ", "bold"), _kinds_text(report.kinds) + "."),
        Text(""),
        _outcome_table(report),
        _accounts_text(report),
        Text(""),
        _fan_out_table(report),
        _webhooks_text(report),
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
        _deadline_text(report),
        Text(""),
    ]
    if report.ok:
        verdict = Text.assemble(
            ("✔ Every event accounted for: ", "bold green"),
            f"{report.published} published{_from_webhooks(report)} = "
            f"{accounting.settled} settled in the ledger "
            f"+ {accounting.dead_lettered} in the dead-letter queue (whole, or at a target);\n"
            f"{accounting.targets_settled} targets settled, "
            f"{accounting.targets_dead_lettered} dead-lettered; "
            f"{accounting.fan_outs_complete} of {len(accounting.fan_outs)} fan-outs complete.",
        )
    else:
        verdict = Text.assemble(
            ("✘ Not every event is accounted for: ", "bold red"),
            f"{len(accounting.unaccounted)} of {accounting.published} are neither settled nor in the DLQ "
            "(or their fan-out is not complete); "
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
