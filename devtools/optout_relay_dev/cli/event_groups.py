"""One phone number's ledger, grouped by event: each event's target rows and, for a fan-out
(an everywhere or provider scope), its summary item and the targets not yet in the ledger."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from optout_relay.aws.ledger_items import SORT_KEY, merge_items
from optout_relay.domain.deadline import business_days_left, within_deadline
from optout_relay.domain.timestamps import parse_utc
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from optout_relay_dev.cli.ledger_view import (
    account_of,
    error_text,
    evidence_text,
    is_summary,
    list_value,
    short_time,
    sort_key,
    status_cell,
)

PENDING = "pending"  # selected by the fan-out, no outcome in the ledger yet


@dataclass
class EventGroup:
    event_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] | None = None

    @property
    def fan_out(self) -> bool:
        return self.summary is not None

    def target_name(self, row: dict[str, Any]) -> str:
        """``<account>#<list>``: the row's key without its event id."""
        return str(row.get(SORT_KEY, "")).removesuffix(f"#{self.event_id}")

    @property
    def pending(self) -> list[str]:
        """Targets the fan-out selected that have no row yet."""
        if self.summary is None:
            return []
        present = {self.target_name(row) for row in self.rows}
        return [str(name) for name in self.summary.get("target_names") or [] if str(name) not in present]

    @property
    def targets(self) -> int:
        return int(self.summary.get("targets", 0)) if self.summary else len(self.rows)

    @property
    def settled(self) -> int:
        """Targets with a final outcome (the summary's count for a fan-out)."""
        if self.summary is not None:
            return int(self.summary.get("settled", 0))
        return sum(1 for row in self.rows if row.get("status") != "retrying")

    @property
    def complete(self) -> bool:
        if self.summary is not None:
            return bool(self.summary.get("completed_at")) or self.settled >= self.targets
        return self.settled == self.targets

    @property
    def moment(self) -> tuple[str, str]:
        first = self.summary or (min(self.rows, key=sort_key) if self.rows else {})
        return (str(first.get("occurred_at") or first.get("processed_at") or ""), self.event_id)

    @property
    def timeline_item(self) -> dict[str, Any]:
        """The item that carries the opt-out's received_at / deadline_at (and completion)."""
        if self.summary is not None:
            return self.summary
        return next((row for row in self.rows if row.get("deadline_at")), {})

    def deadline(self, now: datetime | None = None) -> dict[str, Any] | None:
        """Received, due, and the verdict: complete within the deadline, complete late,
        open with business days left, or overdue (judged as the audit report judges)."""
        item = self.timeline_item
        if not item.get("deadline_at") or not item.get("received_at"):
            return None
        due = parse_utc(str(item["deadline_at"]))
        completed = item.get("completed_at") if self.complete else None
        if completed:
            on_time = within_deadline(parse_utc(str(completed)), due)
            verdict, left = ("complete within deadline" if on_time else "complete late"), None
        else:
            now = now or datetime.now(UTC)
            left = business_days_left(now, due)
            verdict = "open" if within_deadline(now, due) else "overdue"
        return {
            "received_at": item["received_at"],
            "deadline_at": item["deadline_at"],
            "completed_at": completed,
            "verdict": verdict,
            "business_days_left": left,
        }

    def to_json(self) -> dict[str, Any]:
        summary = self.summary or {}
        return {
            "deadline": self.deadline(),
            "event_id": self.event_id,
            "scope": summary.get("scope") if self.summary else None,
            "document_version": summary.get("document_version") if self.summary else None,
            "targets": self.targets,
            "settled": self.settled,
            "complete": self.complete,
            "completed_at": summary.get("completed_at"),
            "summary": self.summary,
            "rows": self.rows,
            "pending": self.pending,
        }


def group_by_event(items: Iterable[dict[str, Any]]) -> list[EventGroup]:
    """The partition's raw items as events, oldest first; each event's rows in key order."""
    items = list(items)
    groups: dict[str, EventGroup] = {}
    for row in sorted(merge_items(items), key=sort_key):
        event_id = str(row.get("event_id", ""))
        groups.setdefault(event_id, EventGroup(event_id)).rows.append(row)
    for item in items:
        if is_summary(item):
            event_id = str(item.get("event_id", ""))
            groups.setdefault(event_id, EventGroup(event_id)).summary = item
    for group in groups.values():
        group.rows.sort(key=lambda row: (account_of(row), list_value(row)))
    return sorted(groups.values(), key=lambda group: group.moment)


def deadline_text(group: EventGroup) -> Text:
    """``received 2026-11-20 15:00:00Z · due 2026-12-08 04:59:59Z · open, 4 business days left``"""
    deadline = group.deadline()
    if deadline is None:
        return Text("no deadline recorded (written before deadlines were kept)", style="dim")
    text = Text.assemble(
        ("received ", "dim"),
        short_time(deadline["received_at"]),
        (" · due ", "dim"),
        short_time(deadline["deadline_at"]),
        " · ",
    )
    verdict = deadline["verdict"]
    style = {"complete within deadline": "green", "open": "yellow"}.get(verdict, "red")
    if verdict == "open":
        verdict += f", {deadline['business_days_left']} business day(s) left"
    text.append(verdict, style=style)
    return text


def heading(group: EventGroup) -> Text:
    """``event crm-7 · everywhere · document v3 · 12/12 settled · complete 2026-...``"""
    text = Text.assemble(("event ", "dim"), (group.event_id, "bold"))
    summary = group.summary
    if summary is None:
        text.append(" · one list" if len(group.rows) == 1 else f" · {len(group.rows)} targets")
        return text.append("\n").append_text(deadline_text(group))
    version = int(summary.get("document_version", 0) or 0)
    text.append(f" · {summary.get('scope', '?')}")
    text.append(f" · document v{version}" if version else " · no document")
    text.append(f" · {group.settled}/{group.targets} settled · ")
    if group.complete:
        done = short_time(summary.get("completed_at") or summary.get("last_settled_at"))
        text.append(f"complete {done}".rstrip(), style="green")
    else:
        text.append("not complete", style="yellow")
    return text.append("\n").append_text(deadline_text(group))


def event_table(group: EventGroup) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("account\nlist", no_wrap=True)
    table.add_column("status\ntries · http", no_wrap=True)
    table.add_column("error / evidence", overflow="fold", ratio=1)
    table.add_column("occurred_at\nprocessed_at", no_wrap=True)
    for row in group.rows:
        table.add_row(
            f"{account_of(row)}\n{list_value(row)}",
            status_cell(row),
            "\n".join(text for text in (error_text(row), evidence_text(row)) if text),
            f"{short_time(row.get('occurred_at')) or '-'}\n{short_time(row.get('processed_at'))}",
        )
    for name in group.pending:
        account, _, listed = name.partition("#")
        table.add_row(f"{account}\n{listed}", Text(PENDING, "yellow"), "no outcome yet", "")
    return table


def render_groups(groups: list[EventGroup]) -> RenderableType:
    parts: list[RenderableType] = []
    for group in groups:
        parts += [heading(group), event_table(group), Text("")]
    return Group(*parts)


def latest_outcomes(groups: list[EventGroup]) -> dict[tuple[str, str], str]:
    """Every (account, list) this number was sent to, with its latest outcome; a target a
    fan-out selected but has not settled yet is ``pending`` unless an earlier event settled it."""
    latest: dict[tuple[str, str], str] = {}
    for group in groups:  # oldest first: the last outcome per target wins
        for row in group.rows:
            latest[(account_of(row), list_value(row))] = str(row.get("status"))
        for name in group.pending:
            account, _, listed = name.partition("#")
            latest.setdefault((account, listed), PENDING)
    return latest
