"""``optout-relay local up|down|status|drain``: the emulation as a background process."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from optout_relay_dev.cli import console as terminal
from optout_relay_dev.cli.app_context import state_dir_of
from optout_relay_dev.cli.dead_letters import queue_depth
from optout_relay_dev.cli.drain import drain as drain_queue
from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.publish import PhoneRegionOption
from optout_relay_dev.cli.rows import read_file, validate
from optout_relay_dev.cli.runtime import local_function
from optout_relay_dev.cli.seeding import (
    events_in_bodies,
    lists_of,
    merge,
    sample_event_bodies,
    subscriptions_for,
)
from optout_relay_dev.cli.target import local_target, process_alive, resolve_local, running_state, state_file
from optout_relay_dev.cli.targets import apply_document, load_valid
from optout_relay_dev.emulator import READY_LINE, EmulatorState, read_state
from optout_relay_dev.event_source import QueueNotDrained

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
LOG_FILE_NAME = "local.log"
SEED_FILE_NAME = "local-subscriptions.json"
DRAIN_LOG_FILE_NAME = "drain-logs.jsonl"
DRAIN_MAX_SECONDS = 300.0

local_app = typer.Typer(
    help="The local emulation (moto server + provider simulators) as a background process.",
    no_args_is_help=True,
)


@local_app.command("up")
def up(
    ctx: typer.Context,
    *,
    subscribed: Annotated[
        list[Path] | None,
        typer.Option(
            "--subscribed",
            help="A .csv/.jsonl of opt-outs whose numbers the simulators start with as subscribed "
            "(repeatable). The sample events in events/ always are.",
        ),
    ] = None,
    fault_rate: Annotated[
        float,
        typer.Option("--fault-rate", min=0.0, max=0.5, help="Share of provider calls that fail transiently."),
    ] = 0.0,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the injected faults.")] = None,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="moto's port (0: any free port).")
    ] = 0,
    targets: Annotated[
        Path | None,
        typer.Option(
            "--targets",
            help="A targets document (.yaml/.json) to apply as version 1; its lists exist at the "
            "simulators and its accounts' secrets are created with the simulators' credentials.",
        ),
    ] = None,
    phone_region: PhoneRegionOption = "US",
) -> None:
    """Start the emulation in the background and print its endpoint.

    moto server, both provider simulators and the stack from template.yaml. The other
    subcommands use it whenever no --stack-name is given.
    """
    state_dir = state_dir_of(ctx)
    running = running_state(state_dir)
    out = terminal.stdout()
    if running is not None:
        out.print(f"A local emulation is already running at {running.endpoint_url} (pid {running.pid}).")
        if targets is not None:
            out.print("To change its targets: `optout-relay targets apply FILE`.")
        return
    # Refused before anything starts: an invalid document never reaches the table.
    document = load_valid(targets, phone_region) if targets is not None else None
    documents = [subscriptions_for(events_in_bodies(sample_event_bodies()))]
    if document is not None:
        documents.append(lists_of(document[1]))
    for path in subscribed or []:
        rows, _ = read_file(path)
        validation = validate(rows, "US", path.name)
        if validation.problems:
            terminal.stderr().print(
                f"[yellow]note:[/] {path}: {len(validation.problems)} invalid row(s) not subscribed "
                f"(first: line {validation.problems[0].line}: {validation.problems[0].message})"
            )
        documents.append(subscriptions_for(row.event for row in validation.valid))
    state_dir.mkdir(parents=True, exist_ok=True)
    seed_path = state_dir / SEED_FILE_NAME
    seed_path.write_text(json.dumps(merge(*documents), indent=1), encoding="utf-8")
    log_path = state_dir / LOG_FILE_NAME
    command = [
        sys.executable,
        "-m",
        "optout_relay_dev.emulator",
        "--state-file",
        str(state_file(state_dir)),
        "--log-file",
        str(log_path),
        "--seed-state",
        str(seed_path),
        "--fault-rate",
        str(fault_rate),
        "--port",
        str(port),
    ]
    if seed is not None:
        command += ["--seed", str(seed)]
    state = _start(command, log_path)
    out.print(f"[green]Local emulation running[/] (pid {state.pid}): AWS endpoint {state.endpoint_url}")
    out.print(_state_table(state))
    if document is not None:
        apply_document(local_target(state), *document, phone_region)
    out.print(
        "Next: `optout-relay publish --file optouts.csv`, `optout-relay local drain`, "
        "`optout-relay status +12065550123`, `optout-relay local down`."
    )


def _start(command: list[str], log_path: Path) -> EmulatorState:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_ENDPOINT_URL")}
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own module, with this Python
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
            env=env,
        )
    assert process.stdout is not None
    ready = False
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not ready and time.monotonic() < deadline:
            if not selector.select(timeout=deadline - time.monotonic()):
                break
            line = process.stdout.readline()
            if not line:  # the process ended
                break
            ready = line.decode(errors="replace").strip() == READY_LINE
    process.stdout.close()
    state_path = Path(command[command.index("--state-file") + 1])
    state = read_state(state_path) if ready else None
    if state is None:
        if process.poll() is None:
            process.kill()
            process.wait()
        tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] if log_path.exists() else []
        reason = tail[0] if tail else "the local emulation did not start"
        if not reason.startswith("the local emulation"):
            reason = f"the local emulation did not start: {reason}"
        raise CliError(f"{reason} (log: {log_path})")
    return state


def _state_table(state: EmulatorState, depths: dict[str, int] | None = None) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    queue = state.queue_url + (f"  ({depths['queue']} message(s))" if depths else "")
    dlq = state.dead_letter_queue_url + (f"  ({depths['dlq']} message(s))" if depths else "")
    for name, value in (
        ("AWS endpoint", state.endpoint_url),
        ("queue", queue),
        ("dead-letter queue", dlq),
        ("ledger table", state.table_name),
        ("targets table", state.targets_table_name or "-"),
        *((f"{name.capitalize()} simulator", url) for name, url in sorted(state.simulator_urls.items())),
        ("started", state.started_at),
        ("log", state.log_file or "-"),
    ):
        table.add_row(name, value)
    return table


def _is_emulator(pid: int) -> bool:
    """Only a process running our emulator module is ever signalled."""
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the state file
    return b"optout_relay_dev.emulator" in command_line


@local_app.command("down")
def down(ctx: typer.Context) -> None:
    """Stop the background emulation (its queues, ledger and simulators are discarded)."""
    path = state_file(state_dir_of(ctx))
    try:
        state = read_state(path)
    except (OSError, ValueError):
        state = None
    out = terminal.stdout()
    if state is None:
        path.unlink(missing_ok=True)
        out.print("No local emulation is running.")
        return
    if state.pid == os.getpid():
        raise CliError("the emulation in this state file runs inside this very process")
    if process_alive(state.pid) and _is_emulator(state.pid):
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while process_alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if process_alive(state.pid):
            raise CliError(
                f"the local emulation (pid {state.pid}) did not stop within {STOP_TIMEOUT_SECONDS:.0f} s"
            )
    path.unlink(missing_ok=True)
    out.print(f"Stopped the local emulation (pid {state.pid}).")


@local_app.command("status")
def status(ctx: typer.Context) -> None:
    """Show whether the emulation runs, where, and how many messages its queues hold."""
    state = running_state(state_dir_of(ctx))
    out = terminal.stdout()
    if state is None:
        out.print("No local emulation is running: start one with `optout-relay local up`.")
        raise typer.Exit(1)
    target = local_target(state)
    sqs = target.client("sqs")
    depths = {
        "queue": queue_depth(sqs, state.queue_url),
        "dlq": queue_depth(sqs, state.dead_letter_queue_url),
    }
    out.print(f"[green]Running[/] (pid {state.pid})")
    out.print(_state_table(state, depths))


@local_app.command("drain")
def drain(
    ctx: typer.Context,
    *,
    max_seconds: Annotated[
        float,
        typer.Option(
            "--max-seconds",
            min=1.0,
            help="Stop after this long even if messages are still coming back (a target that "
            "keeps failing, a tight rate budget), and say how many are left.",
        ),
    ] = DRAIN_MAX_SECONDS,
) -> None:
    """Relay everything in the local queue with the real handler, until it is empty.

    This is the event source mapping's job on AWS; nothing else consumes the local queue.
    """
    state_dir = state_dir_of(ctx)
    target = resolve_local(state_dir)
    state = target.local
    assert state is not None
    sqs = target.client("sqs")
    out = terminal.stdout()
    waiting = queue_depth(sqs, state.queue_url)
    if waiting == 0:
        out.print("The queue is empty: nothing to drain.")
        return
    log_path = state_dir / DRAIN_LOG_FILE_NAME
    with local_function(state.function_environment, log_path) as handler:
        try:
            stats = drain_queue(
                sqs, state.queue_url, handler, total=waiting, description="Draining", max_seconds=max_seconds
            )
        except QueueNotDrained as stopped:
            raise CliError(
                f"{stopped}: they keep coming back (a target failing on each delivery, or waiting "
                "for rate budget) and are not lost; `optout-relay local drain` goes on, "
                f"`optout-relay status PHONE` shows each target's attempts, handler logs: {log_path}"
            ) from None
    dead = queue_depth(sqs, state.dead_letter_queue_url)
    out.print(
        f"Handled {stats.records} record(s) in {stats.batches} batch(es) in {stats.seconds:.1f} s "
        f"({stats.batch_item_failures} given back for a retry). The dead-letter queue holds {dead} "
        f"message(s). Handler logs: {log_path}"
    )
