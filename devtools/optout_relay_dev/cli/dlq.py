"""``optout-relay dlq list`` and ``dlq redrive``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from optout_relay_dev.cli import console as terminal
from optout_relay_dev.cli.app_context import state_dir_of
from optout_relay_dev.cli.dead_letters import (
    NO_CODE,
    DeadLetter,
    explain_from_ledger,
    format_age,
    move_messages,
    peek,
    queue_depth,
    start_move_task,
    wait_for_move_task,
)
from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.publish import PhoneRegionOption
from optout_relay_dev.cli.target import (
    DLQ_ARN,
    DLQ_URL,
    QUEUE_ARN,
    QUEUE_URL,
    TABLE,
    RegionOption,
    StackNameOption,
    resolve,
)

dlq_app = typer.Typer(help="Inspect the dead-letter queue and send its messages back.", no_args_is_help=True)


def dead_letter_table(letters: list[DeadLetter], title: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("error_code\nage", no_wrap=True)
    table.add_column("target · event id\nmessage id", overflow="fold", ratio=1)
    table.add_column("reason", overflow="fold", ratio=1)
    for letter in letters:
        table.add_row(
            f"{letter.error_code or NO_CODE}\n{format_age(letter.age_seconds())}",
            f"{where(letter)} · {letter.event_id or '?'}\n{letter.message_id}",
            letter.reason,
        )
    return table


def where(letter: DeadLetter) -> str:
    """The failed target (``account#list``, one of a fan-out's), else what the event named:
    its provider, or its scope when the whole fan-out was refused."""
    if letter.target:
        return letter.target
    return letter.provider or letter.scope or "?"


@dlq_app.command("list")
def list_dead_letters(
    ctx: typer.Context,
    *,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="Read at most this many.")] = 1000,
    json_output: Annotated[bool, typer.Option("--json", help="Print the messages as JSON.")] = False,
    phone_region: PhoneRegionOption = "US",
    stack_name: StackNameOption = None,
    region: RegionOption = None,
) -> None:
    """List the dead-letter queue: target (account#list) or provider, event, error_code, reason, age.

    Messages are read without being consumed: hidden while the queue is read, then
    made visible again. Messages the redrive policy moved (no error_code of their own)
    show the last error the ledger recorded.
    """
    target = resolve(stack_name, region, state_dir_of(ctx), required=[DLQ_URL])
    sqs = target.client("sqs")
    result = peek(
        sqs,
        target.output(DLQ_URL),
        limit=limit,
        wait_seconds=0 if target.is_local else 1,
        default_region=phone_region.upper(),
    )
    if target.outputs.get(TABLE):
        explain_from_ledger(target.client("dynamodb"), target.output(TABLE), result.letters)
    if json_output:
        terminal.print_json(
            {"messages": [letter.to_json() for letter in result.letters], "truncated": result.truncated}
        )
        return
    out = terminal.stdout()
    if not result.letters:
        out.print(f"The dead-letter queue of {target.description} is empty.")
        return
    table = dead_letter_table(result.letters, f"Dead-letter queue: {len(result.letters)} message(s)")
    out.print(table)
    if result.truncated:
        out.print(f"[yellow]Only the first {limit} shown (--limit).[/]")


@dlq_app.command("redrive")
def redrive(
    ctx: typer.Context,
    *,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="AWS: wait until the move task ends.")] = False,
    stack_name: StackNameOption = None,
    region: RegionOption = None,
) -> None:
    """Send every dead-letter queue message back to the source queue.

    On AWS: an SQS message move task (StartMessageMoveTask). On the local emulation
    the same, message by message, keeping each body and its attributes.
    """
    target = resolve(stack_name, region, state_dir_of(ctx), required=[DLQ_URL, DLQ_ARN, QUEUE_URL, QUEUE_ARN])
    sqs = target.client("sqs")
    out = terminal.stdout()
    waiting = queue_depth(sqs, target.output(DLQ_URL))
    if waiting == 0:
        out.print(f"The dead-letter queue of {target.description} is empty: nothing to redrive.")
        return
    source_name = target.output(DLQ_ARN).rsplit(":", 1)[-1]
    destination_name = target.output(QUEUE_ARN).rsplit(":", 1)[-1]
    if not yes:
        typer.confirm(
            f"Move about {waiting} message(s) from {source_name} back to {destination_name} "
            f"({target.description})?",
            abort=True,
            err=True,
        )
    if target.is_local:
        with terminal.progress() as bar:
            task = bar.add_task("Redriving", total=waiting, detail="")
            moved = move_messages(
                sqs,
                target.output(DLQ_URL),
                target.output(QUEUE_URL),
                on_progress=lambda n: bar.advance(task, n),
            )
        out.print(f"Moved {moved} message(s) from {source_name} to {destination_name}.")
        out.print("Run `optout-relay local drain` to process them.")
        return
    handle = start_move_task(sqs, target.output(DLQ_ARN), target.output(QUEUE_ARN))
    out.print(f"Started an SQS message move task for about {waiting} message(s): {handle}")
    if not wait:
        out.print(
            "It runs in the background: follow it with "
            f"`aws sqs list-message-move-tasks --source-arn {target.output(DLQ_ARN)}`."
        )
        return
    with terminal.progress() as bar:
        task_id = bar.add_task("Moving", total=waiting, detail="")

        def on_progress(moved: int, to_move: int | None) -> None:
            bar.update(task_id, completed=moved, total=to_move or waiting)

        move_task = wait_for_move_task(sqs, target.output(DLQ_ARN), handle, on_progress=on_progress)
    status = move_task.get("Status", "UNKNOWN")
    out.print(f"Move task {status}: {move_task.get('ApproximateNumberOfMessagesMoved', 0)} message(s) moved.")
    if status != "COMPLETED":
        reason = move_task.get("FailureReason")
        raise CliError(f"the move task ended {status}" + (f": {reason}" if reason else ""))
