"""The audit report for people: the totals, then each opt-out (number, event, receipt,
deadline, verdict) above a small table of its targets. Instants are UTC, as everywhere;
each deadline also names its day in New York, the calendar it is counted on."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from optout_relay.domain.deadline import EASTERN
from optout_relay.domain.timestamps import parse_utc
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from optout_relay_dev.cli.audit import OptOutAudit, TargetOutcome, Totals, Verdict
from optout_relay_dev.cli.ledger_view import STATUS_STYLE, short_time
from optout_relay_dev.cli.report_formats import Report

TABLE_LIMIT = 200
VERDICT_STYLE = {
    Verdict.WITHIN: "green",
    Verdict.LATE: "red",
    Verdict.OPEN: "yellow",
    Verdict.OVERDUE: "bold red",
}

EVIDENCE_LABELS = {
    "http_status": "http",
    "provider_date": "date",
    "request_id": "request",
    "opted_out_at": "opted out",
    "unsubscribed": "unsubscribed",
}


def report_table(report: Report, limit: int = TABLE_LIMIT) -> RenderableType:
    """All opt-outs up to ``limit``; past it, only those not complete within their deadline
    (a terminal table of thousands helps nobody, and rich draws about a thousand rows a
    second): CSV and JSON always hold every one."""
    title = f"Opt-outs received {report.period} (UTC days)"
    if report.phone_number:
        title += f" for {report.phone_number}"
    heading = Text.assemble(
        (title, "bold"), f"\nfrom {report.source}, as of {short_time(report.about()['as_of'])}\n"
    )
    if not report.opt_outs:
        return Group(heading, totals_text(report.totals), Text("\nNo opt-out was received in this period."))
    shown, note = _shown(report.opt_outs, limit)
    return Group(heading, totals_text(report.totals), *_opt_out_blocks(shown), Text(note))


def _shown(audits: list[OptOutAudit], limit: int) -> tuple[list[OptOutAudit], str]:
    if len(audits) <= limit:
        return audits, ""
    exceptions = [audit for audit in audits if audit.verdict is not Verdict.WITHIN]
    shown = exceptions[:limit]
    left_out = len(audits) - len(shown)
    within = "" if len(exceptions) > limit else ", all of them complete within their deadline"
    return shown, (
        f"\n{left_out} more opt-out(s) not listed here{within} "
        f"(the table shows at most {limit}): --format csv or json has every one."
    )


def totals_text(totals: Totals) -> Text:
    open_detail = ""
    if totals.open_fewest_business_days_left is not None:
        open_detail = f" (fewest business days left: {totals.open_fewest_business_days_left})"
    text = Text.assemble(
        f"Received {totals.received} · ",
        (f"complete within deadline {totals.complete_within_deadline}", "green"),
        " · ",
        (f"complete late {totals.complete_late}", "red" if totals.complete_late else ""),
        " · ",
        (f"open {totals.open}{open_detail}", "yellow" if totals.open else ""),
        " · ",
        (f"overdue {totals.overdue}", "bold red" if totals.overdue else ""),
    )
    if totals.complete_with_a_target_rejected_or_failed:
        text.append(
            f"\n{totals.complete_with_a_target_rejected_or_failed} complete opt-out(s) have a target "
            "rejected or failed: not applied there (see `optout-relay dlq list`)."
        )
    return text


def verdict_text(audit: OptOutAudit) -> Text:
    label = audit.verdict.value.replace("_", " ")
    if audit.verdict in (Verdict.WITHIN, Verdict.LATE):
        detail = f"completed {short_time(audit.completed_at)}, {_days(audit.business_days_taken)}"
    elif audit.verdict is Verdict.OPEN:
        detail = f"{_days(audit.business_days_left)} left"
    else:
        detail = f"{_days(max(0, -(audit.business_days_left or 0)))} past the deadline's day"
    return Text.assemble((label, VERDICT_STYLE[audit.verdict]), f": {detail}")


def _opt_out_blocks(audits: list[OptOutAudit]) -> Iterator[RenderableType]:
    for audit in audits:
        deadline = parse_utc(audit.deadline_at).astimezone(EASTERN)
        yield Text.assemble(
            "\n",
            (f"{audit.phone_number}  {audit.event_id}", "bold"),
            f"  ({audit.scope})\nreceived {short_time(audit.received_at)} · deadline ",
            f"{short_time(audit.deadline_at)} (end of {deadline:%a %Y-%m-%d} in New York) · ",
            verdict_text(audit),
        )
        yield _targets_table(audit)


def _targets_table(audit: OptOutAudit) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=True)
    table.add_column("target\naccount", overflow="fold", ratio=1, min_width=12)
    table.add_column("status\ntries · error", overflow="fold", ratio=1, min_width=14)
    table.add_column("settled\nbusiness days", no_wrap=True)
    table.add_column("evidence", overflow="fold", ratio=2, min_width=16)
    for target in audit.targets:
        table.add_row(*_target_cells(target))
    return table


def _target_cells(target: TargetOutcome) -> tuple[str, Text, str, str]:
    tries = f"{target.attempts} {'try' if target.attempts == 1 else 'tries'}"
    error = f" · {target.error_code}" if target.error_code else ""
    days = "" if target.business_days_taken is None else _days(target.business_days_taken)
    return (
        f"{target.provider or target.account} {target.list}\n{target.account}",
        Text.assemble((target.status, STATUS_STYLE.get(target.status, "")), "\n", (tries + error, "dim")),
        f"{short_time(target.settled_at) or '-'}\n{days}",
        evidence_text(target.evidence),
    )


def evidence_text(evidence: Mapping[str, Any]) -> str:
    """One fact a line: ``http 200``, ``date 2026-11-03T10:00:00Z``, ``request r-1``, ..."""
    lines = [f"{EVIDENCE_LABELS.get(name, name)} {value}" for name, value in sorted(evidence.items())]
    return "\n".join(lines)


def _days(count: int | None) -> str:
    return f"{count} business day{'' if count == 1 else 's'}"
