"""``optout-relay watch``: the hourly deadline watch, run once from a terminal.

The same code as the deployed watch (``optout_relay.watcher``): one Query per receipt
day on the ledger's ``by-received-day`` index, never a Scan. It publishes nothing and
shows the numbers in full, for the operator who has to act on them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from optout_relay.aws.opt_out_index import OptOutIndex
from optout_relay.domain.deadline_watch import DUE_SOON_BUSINESS_DAYS, AtRisk, WatchFigures
from optout_relay.domain.timestamps import iso_utc, parse_utc
from optout_relay.watch_settings import DEFAULT_LOOKBACK_DAYS, MAX_LOOKBACK_DAYS
from optout_relay.watcher import DeadlineWatcher
from rich import box
from rich.table import Table

from optout_relay_dev.cli import console as terminal
from optout_relay_dev.cli.app_context import state_dir_of
from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.target import TABLE, RegionOption, StackNameOption, resolve


def watch(
    ctx: typer.Context,
    *,
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="Assess as of this instant (ISO 8601, e.g. 2026-11-20T15:00:00Z). Default: now."
        ),
    ] = None,
    lookback_days: Annotated[
        int,
        typer.Option(
            "--lookback-days", min=1, max=MAX_LOOKBACK_DAYS, help="Days of receipts to read, one Query each."
        ),
    ] = DEFAULT_LOOKBACK_DAYS,
    json_output: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    stack_name: StackNameOption = None,
    region: RegionOption = None,
) -> None:
    """Open opt-outs, those due within two business days and those overdue (the deadline watch, once)."""
    now = _instant(at)
    target = resolve(stack_name, region, state_dir_of(ctx), required=[TABLE])
    index = OptOutIndex(target.output(TABLE), dynamodb=target.client("dynamodb"))
    figures = DeadlineWatcher(index, lookback_days, clock=lambda: now).run()
    if json_output:
        terminal.print_json(_document(figures, now, lookback_days))
        return
    out = terminal.stdout()
    out.print(
        f"Deadline watch of {target.description} at {iso_utc(now)} (receipts of the last "
        f"{lookback_days} days): {figures.open} open, {figures.due_soon} due within "
        f"{DUE_SOON_BUSINESS_DAYS} business days, {figures.overdue} overdue."
    )
    if figures.most_urgent_business_days_left is not None:
        out.print(f"Most urgent: {figures.most_urgent_business_days_left} business day(s) left.")
    if figures.at_risk:
        out.print(_at_risk_table(figures.at_risk))
        out.print("See each number with `optout-relay status PHONE`, and `optout-relay dlq list`.")


def _instant(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        return parse_utc(text)
    except ValueError:
        raise CliError(
            f"--at must be an ISO 8601 instant such as 2026-11-20T15:00:00Z, got {text!r}"
        ) from None


def _at_risk_table(entries: tuple[AtRisk, ...]) -> Table:
    table = Table(
        title="At risk, most urgent first", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column("days left", justify="right", no_wrap=True)
    table.add_column("deadline (UTC)", no_wrap=True)
    table.add_column("phone · event id", overflow="fold", ratio=1)
    table.add_column("unsettled targets: status (last error)", overflow="fold", ratio=2)
    for entry in entries:
        record = entry.record
        style = "red" if entry.overdue else "yellow"
        table.add_row(
            f"[{style}]{entry.business_days_left}[/]",
            iso_utc(record.deadline_at)[:16].replace("T", " "),
            f"{record.phone_number} · {record.event_id}",
            "\n".join(
                f"{t.name}: {t.status or 'not recorded'}" + (f" ({t.error_code})" if t.error_code else "")
                for t in record.unsettled
            ),
        )
    return table


def _document(figures: WatchFigures, now: datetime, lookback_days: int) -> dict[str, Any]:
    return {
        "at": iso_utc(now),
        "lookback_days": lookback_days,
        "figures": figures.metrics(),
        "at_risk": [
            {
                "phone_number": entry.record.phone_number,
                "event_id": entry.record.event_id,
                "received_at": iso_utc(entry.record.received_at),
                "deadline_at": iso_utc(entry.record.deadline_at),
                "business_days_left": entry.business_days_left,
                "overdue": entry.overdue,
                "unsettled_targets": [
                    {"target": t.name, "status": t.status, "last_error_code": t.error_code}
                    for t in entry.record.unsettled
                ],
            }
            for entry in figures.at_risk
        ],
    }
