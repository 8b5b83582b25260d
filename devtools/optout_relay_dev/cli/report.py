"""``optout-relay report``: every opt-out received in a period, judged against its deadline.

Reads the ledger one UTC day at a time through the ``by-received-day`` index (one Query
per day, paginated), or, with ``--phone``, one Query on that number's partition; never a
Scan. Each opt-out is judged as of now (``audit``) and written as CSV or JSON
(``report_formats``) or a table (``report_table``).
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import ClientError
from optout_relay.domain.phone import InvalidPhone, normalise_phone
from optout_relay.domain.timestamps import parse_utc
from rich.console import Console

from optout_relay_dev.cli import console as terminal
from optout_relay_dev.cli.app_context import state_dir_of
from optout_relay_dev.cli.audit import OptOutAudit, audit_opt_outs, totals_of
from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.publish import PhoneRegionOption
from optout_relay_dev.cli.received_index import RECEIVED_DAY_INDEX, items_of_phone, items_received_on
from optout_relay_dev.cli.report_formats import Report, report_csv, report_json
from optout_relay_dev.cli.report_table import report_table
from optout_relay_dev.cli.target import TABLE, RegionOption, StackNameOption, Target, resolve, running_state

MAX_PERIOD_DAYS = 366  # a leap year: a year's report in one run, one Query per day
_DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
ItemsOnDay = Callable[[date], list[dict[str, Any]]]


class ReportFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def report(
    ctx: typer.Context,
    *,
    from_day: Annotated[
        str,
        typer.Option("--from", help="First UTC day of receipt (YYYY-MM-DD, or today).", show_default=False),
    ],
    to_day: Annotated[
        str, typer.Option("--to", help="Last UTC day of receipt, included (YYYY-MM-DD, or today).")
    ],
    phone: Annotated[
        str | None, typer.Option("--phone", help="Only this number's opt-outs (one Query on its partition).")
    ] = None,
    output_format: Annotated[
        ReportFormat | None,
        typer.Option(
            "--format",
            case_sensitive=False,
            help="table, csv or json. Default: from --output's extension (.csv, .json), else table.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file (never overwritten).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --output file.")] = False,
    phone_region: PhoneRegionOption = "US",
    stack_name: StackNameOption = None,
    region: RegionOption = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            envvar="OPTOUT_RELAY_REPORT_NOW",
            hidden=True,
            help="For tests: judge open opt-outs as of this ISO-8601 instant instead of the clock.",
        ),
    ] = None,
) -> None:
    """Every opt-out received in a period: each target's outcome and evidence, the deadline, totals.

    One Query per UTC day on the by-received-day index (never a Scan); --phone: one Query.
    """
    as_of = _now(now)
    first, last = parse_period(from_day, to_day, as_of.date())
    number = _phone(phone, phone_region) if phone else None
    chosen = output_format or _format_of(output)
    if output is not None and output.exists() and not force:
        raise CliError(f"{output} exists: an audit report is not overwritten (pass --force, or another file)")
    snapshot = demo_snapshot(state_dir_of(ctx)) if stack_name is None else None
    if snapshot is not None and running_state(state_dir_of(ctx)) is None:
        # No emulation running, but `make demo` left the ledger of its run: read that.
        terminal.stderr().print(f"No local emulation is running: reading the last demo's ledger, {snapshot}.")
        audits = audits_from_snapshot(snapshot, first, last, number, as_of)
        source = f"the last demo's ledger ({snapshot})"
    else:
        target = resolve(stack_name, region, state_dir_of(ctx), required=[TABLE])
        audits = _audit(target, first, last, number, as_of)
        source = target.description
    document = Report(first, last, as_of, source, number, audits, totals_of(audits))
    if output is None:
        _print(document, chosen)
        return
    _write(output, _render(document, chosen))
    terminal.stderr().print(
        f"Wrote the {chosen.value} report of {len(audits)} opt-out(s) received {document.period} to {output}"
    )


def parse_period(from_text: str, to_text: str, today: date) -> tuple[date, date]:
    first, last = _day("--from", from_text, today), _day("--to", to_text, today)
    if first > last:
        raise CliError(f"--from {first} is after --to {last}: the period runs from --from to --to")
    days = (last - first).days + 1
    if days > MAX_PERIOD_DAYS:
        raise CliError(
            f"{first} to {last} is {days} days: a report covers at most {MAX_PERIOD_DAYS} "
            "(one Query per day); split the period"
        )
    return first, last


def days_of(first: date, last: date) -> Iterator[date]:
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def audit_period(
    dynamodb: Any,
    table_name: str,
    first: date,
    last: date,
    now: datetime,
    *,
    phone_number: str | None = None,
    on_day: Callable[[date, int], None] | None = None,
) -> list[OptOutAudit]:
    """The opt-outs received from ``first`` to ``last`` (of one number), judged as of ``now``.

    Audited a day at a time: every item of an opt-out carries the day it was received, so a
    day's items hold whole opt-outs, and a long period keeps its audits, not its items.
    """
    with _missing_index_explained(table_name):
        if phone_number:
            return audit_opt_outs(items_of_phone(dynamodb, table_name, phone_number, first, last), now)
        items_on: ItemsOnDay = partial(items_received_on, dynamodb, table_name)  # the reader to swap
        audits: list[OptOutAudit] = []
        for day in days_of(first, last):
            found = items_on(day)
            audits.extend(audit_opt_outs(found, now))
            if on_day is not None:
                on_day(day, len(found))
        return audits


@contextmanager
def _missing_index_explained(table_name: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", ""))
        if "index" in message.lower():
            raise CliError(
                f"the ledger table {table_name} has no index {RECEIVED_DAY_INDEX}: deploy this "
                "template.yaml (locally: `optout-relay local down`, then `local up`)"
            ) from None
        raise


DEMO_SNAPSHOT = "demo-ledger.json"


def demo_snapshot(state_dir: Path) -> Path | None:
    path = state_dir / DEMO_SNAPSHOT
    return path if path.is_file() else None


def audits_from_snapshot(
    path: Path, first: date, last: date, phone_number: str | None, now: datetime
) -> list[OptOutAudit]:
    """The audit of the items the demo saved (the day's index items of its run)."""
    items = [
        item
        for item in json.loads(path.read_text(encoding="utf-8"))
        if first.isoformat() <= str(item.get("received_day", "")) <= last.isoformat()
        and (phone_number is None or item.get("phone_number") == phone_number)
    ]
    return audit_opt_outs(items, now)


def _audit(
    target: Target, first: date, last: date, phone_number: str | None, now: datetime
) -> list[OptOutAudit]:
    dynamodb, table_name = target.client("dynamodb"), target.output(TABLE)
    if phone_number:
        return audit_period(dynamodb, table_name, first, last, now, phone_number=phone_number)
    with terminal.progress() as bar:
        task = bar.add_task(f"Reading {target.description}", total=(last - first).days + 1, detail="")

        def on_day(day: date, found: int) -> None:
            bar.update(task, advance=1, detail=f"{day} ({found} items)")

        return audit_period(dynamodb, table_name, first, last, now, on_day=on_day)


def _day(option: str, text: str, today: date) -> date:
    value = text.strip()
    if value.lower() == "today":
        return today
    try:
        if _DAY_PATTERN.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise CliError(f"{option} {text!r} is not a date: use YYYY-MM-DD (a UTC day), or today")


def _now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        return parse_utc(text)
    except ValueError:
        raise CliError(f"--now (OPTOUT_RELAY_REPORT_NOW) {text!r} is not an ISO-8601 instant") from None


def _phone(text: str, phone_region: str) -> str:
    try:
        return normalise_phone(text, phone_region.upper(), field_name="--phone").e164
    except InvalidPhone as error:
        raise CliError(str(error)) from None


def _format_of(output: Path | None) -> ReportFormat:
    suffix = output.suffix.lower().lstrip(".") if output else ""
    return ReportFormat(suffix) if suffix in {"csv", "json"} else ReportFormat.TABLE


def _render(document: Report, chosen: ReportFormat) -> str:
    if chosen is ReportFormat.CSV:
        return report_csv(document)
    if chosen is ReportFormat.JSON:
        return report_json(document)
    buffer = io.StringIO()
    Console(file=buffer, width=160, color_system=None, highlight=False).print(report_table(document))
    return buffer.getvalue()


def _print(document: Report, chosen: ReportFormat) -> None:
    if chosen is ReportFormat.TABLE:
        terminal.stdout().print(report_table(document))
        return
    text = _render(document, chosen)
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    binary.write(text.encode("utf-8"))  # whatever the locale: the CSV's byte order mark says UTF-8
    binary.flush()


def _write(path: Path, text: str) -> None:
    """Written whole or not at all: a temporary file beside it, renamed into place."""
    directory = path.parent
    if not directory.is_dir():
        raise CliError(f"cannot write {path}: {directory} is not a directory")
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise CliError(f"cannot write {path}: {error.strerror or error}") from None
