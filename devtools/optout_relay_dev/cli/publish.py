"""``optout-relay publish``: one opt-out from flags, or many from a CSV or JSON Lines file."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from optout_relay_dev.cli import console as terminal
from optout_relay_dev.cli.app_context import state_dir_of
from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.rows import (
    Row,
    RowProblem,
    Validation,
    ValidRow,
    read_file,
    split_purposes,
    validate,
)
from optout_relay_dev.cli.sender import Outgoing, SendReport, send_messages
from optout_relay_dev.cli.target import QUEUE_URL, RegionOption, StackNameOption, Target, resolve

MAX_PROBLEMS_SHOWN = 50
PREVIEW_ROWS = 10

PhoneRegionOption = Annotated[
    str,
    typer.Option(
        "--phone-region",
        envvar="DEFAULT_PHONE_REGION",
        help="Region of numbers given in national format (the function's DEFAULT_PHONE_REGION).",
    ),
]


def publish(
    ctx: typer.Context,
    *,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="A .csv (header = event fields) or .jsonl file of opt-outs."),
    ] = None,
    provider: Annotated[str | None, typer.Option(help="trackly or tatango (single event).")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number: E.164 or national (single event).")] = None,
    list_number: Annotated[str | None, typer.Option(help="Trackly: the sending list's number.")] = None,
    list_id: Annotated[str | None, typer.Option(help="Tatango: the list id.")] = None,
    everywhere: Annotated[
        bool,
        typer.Option(
            "--everywhere", help="Every list of every account in the targets document (--scope everywhere)."
        ),
    ] = False,
    scope: Annotated[
        str | None,
        typer.Option(help="everywhere, or provider (every list of --provider's accounts)."),
    ] = None,
    account: Annotated[
        str | None, typer.Option(help="An account id of the targets document, of --provider.")
    ] = None,
    purposes: Annotated[
        str | None,
        typer.Option(help="Comma-separated: only the scope's lists tagged with one of them (marketing,...)."),
    ] = None,
    event_id: Annotated[str | None, typer.Option(help="Idempotency key. Default: a new cli-<uuid>.")] = None,
    source: Annotated[str | None, typer.Option(help="Where the opt-out came from (free text).")] = None,
    occurred_at: Annotated[str | None, typer.Option(help="When the person opted out (ISO-8601).")] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Send the valid rows even if some are invalid.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and show; send nothing.")] = False,
    phone_region: PhoneRegionOption = "US",
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
    stack_name: StackNameOption = None,
    region: RegionOption = None,
) -> None:
    """Send opt-outs to the queue: one from the options, or a .csv/.jsonl file.

    One list: --provider, --phone and the list. Every list of the targets document:
    --everywhere --phone. Every list of one provider's accounts: --scope provider
    --provider P [--account A]. --purposes narrows either scope.

    Every row is validated first with the function's own rules (phone normalisation,
    scopes, error codes); nothing is sent if any row is invalid, unless --skip-invalid.
    Rows without an event_id get one from the file name and line, so publishing the
    same file again does nothing twice. Sent with SendMessageBatch, ten at a time.
    """
    if everywhere and scope not in (None, "everywhere"):
        raise CliError(f"--everywhere is --scope everywhere: it cannot be combined with --scope {scope}")
    single: dict[str, Any] = {
        "scope": "everywhere" if everywhere else scope,
        "provider": provider,
        "account": account,
        "phone_number": phone,
        "list_number": list_number,
        "list_id": list_id,
        "purposes": None if purposes is None else split_purposes(purposes),
        "event_id": event_id,
        "source": source,
        "occurred_at": occurred_at,
    }
    given = {name: value for name, value in single.items() if value is not None}
    if file is not None and given:
        raise CliError("use either --file or the single-event options (--provider, --phone, ...), not both")
    if file is None and not given:
        raise CliError(
            "nothing to publish: give --file FILE, or --phone with --provider and the list, or --phone "
            "with --everywhere"
        )
    if file is not None:
        rows, ignored = read_file(file)
        if not rows:
            raise CliError(f"{file}: no opt-outs in it (only a header or blank lines)")
        validation = validate(rows, phone_region.upper(), file.name, ignored)
    else:
        given.setdefault("event_id", f"cli-{uuid.uuid4()}")
        validation = validate([Row(None, given)], phone_region.upper(), "cli")

    err = terminal.stderr()
    if validation.ignored_columns:
        names = ", ".join(validation.ignored_columns)
        err.print(f"[yellow]note:[/] ignoring column(s) not in the event contract: {names}")
    if validation.problems:
        err.print(_problem_table(validation.problems))
        if not skip_invalid or not validation.valid:
            _finish(json_output, validation, None, None, dry_run)
            raise CliError(
                f"{len(validation.problems)} of {validation.total} opt-outs are invalid; nothing was sent"
                + (
                    f" (fix them, or pass --skip-invalid to send the {len(validation.valid)} valid ones)"
                    if validation.valid
                    else ""
                )
            )
        err.print(f"[yellow]skipping {len(validation.problems)} invalid opt-out(s)[/]")

    if dry_run:
        if not json_output:
            terminal.stdout().print(_preview(validation.valid))
            terminal.stdout().print(
                f"Dry run: {len(validation.valid)} valid opt-out(s) would be sent; nothing was sent."
            )
        _finish(json_output, validation, None, None, dry_run)
        return

    target = resolve(stack_name, region, state_dir_of(ctx), required=[QUEUE_URL])
    report = _send(target, validation.valid)
    _finish(json_output, validation, report, target, dry_run)
    if report.failures:
        raise CliError(
            f"{len(report.failures)} of {len(validation.valid)} opt-outs were not sent (see above)"
        )


def _send(target: Target, valid: list[ValidRow]) -> SendReport:
    messages = [
        Outgoing(json.dumps(row.body), group_id=row.event.phone.e164, deduplication_id=row.event.event_id)
        for row in valid
    ]
    with terminal.progress() as bar:
        task = bar.add_task(f"Sending to {target.description}", total=len(messages), detail="")
        report = send_messages(
            target.client("sqs"),
            target.output(QUEUE_URL),
            messages,
            on_progress=lambda n: bar.advance(task, n),
        )
    return report


def _problem_table(problems: list[RowProblem]) -> Table:
    table = Table(title=f"{len(problems)} invalid opt-out(s)", title_justify="left")
    table.add_column("where", no_wrap=True)
    table.add_column("error_code", no_wrap=True)
    table.add_column("problem", overflow="fold")
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        table.add_row(problem.where, problem.code, problem.message)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        table.add_row("…", "", f"and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    return table


def _preview(valid: list[ValidRow]) -> Table:
    table = Table(title=f"{len(valid)} opt-out(s) to send (normalised)", title_justify="left")
    for name in ("line", "phone_number", "reaches", "event_id"):
        table.add_column(name, overflow="fold")
    for row in valid[:PREVIEW_ROWS]:
        event = row.event
        table.add_row(
            "" if row.line is None else str(row.line), event.phone.e164, event.describe(), event.event_id
        )
    if len(valid) > PREVIEW_ROWS:
        table.add_row("…", "", "", f"and {len(valid) - PREVIEW_ROWS} more")
    return table


def _finish(
    json_output: bool,
    validation: Validation,
    report: SendReport | None,
    target: Target | None,
    dry_run: bool,
) -> None:
    valid = validation.valid
    if json_output:
        document: dict[str, Any] = {
            "dry_run": dry_run,
            "valid": len(valid),
            "invalid": [
                {"line": p.line, "error_code": p.code, "message": p.message} for p in validation.problems
            ],
            "sent": [],
            "failed": [],
        }
        if report is not None and target is not None:
            document["queue_url"] = target.output(QUEUE_URL)
            document["sent"] = [
                {"line": valid[i].line, "event_id": valid[i].event.event_id, "message_id": message_id}
                for i, message_id in sorted(report.message_ids.items())
            ]
            document["failed"] = [
                {
                    "line": valid[f.index].line,
                    "event_id": valid[f.index].event.event_id,
                    "code": f.code,
                    "message": f.message,
                }
                for f in report.failures
            ]
        terminal.print_json(document)
        return
    if report is None or target is None:
        return
    out = terminal.stdout()
    if report.failures:
        table = Table(title=f"{len(report.failures)} not sent", title_justify="left")
        for name in ("where", "event_id", "code", "reason"):
            table.add_column(name, overflow="fold")
        for failure in report.failures:
            row = valid[failure.index]
            table.add_row(
                "event" if row.line is None else f"line {row.line}",
                row.event.event_id,
                failure.code,
                failure.message,
            )
        out.print(table)
    retried = f" ({report.retried_entries} entries retried)" if report.retried_entries else ""
    out.print(f"Sent {report.sent} of {len(valid)} opt-out(s) to {target.description}{retried}.")
    if len(valid) == 1 and report.sent == 1:
        event = valid[0].event
        out.print(f"  event_id {event.event_id}, message id {report.message_ids[0]}: {event.describe()}")
    if target.is_local:
        out.print("Nothing consumes the local queue by itself: run `optout-relay local drain`.")
