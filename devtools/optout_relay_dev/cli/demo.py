"""``optout-relay demo``: the whole relay on loopback, end to end, with a summary."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from optout_relay.domain.targets import TargetsDocument
from rich.console import Console

from optout_relay_dev.cli import console as terminal
from optout_relay_dev.cli.app_context import state_dir_of
from optout_relay_dev.cli.audit import totals_of
from optout_relay_dev.cli.dead_letters import explain_from_ledger, peek, queue_depth
from optout_relay_dev.cli.demo_accounting import Published, account, expectations, keys_to_read
from optout_relay_dev.cli.demo_data import Scenario, build_scenario
from optout_relay_dev.cli.demo_report import DemoReport, render, webhook_counts
from optout_relay_dev.cli.drain import DrainStats, drain
from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.ledger_view import account_of, get_items, get_raw_items, short_time
from optout_relay_dev.cli.received_index import items_received_on
from optout_relay_dev.cli.report import DEMO_SNAPSHOT, audit_period
from optout_relay_dev.cli.report_formats import Report, report_csv
from optout_relay_dev.cli.runtime import local_function
from optout_relay_dev.cli.sender import Outgoing, send_messages
from optout_relay_dev.cli.target import local_target
from optout_relay_dev.cli.targets import apply_document
from optout_relay_dev.cli.targets_access import parse_document
from optout_relay_dev.emulator import Emulator, EmulatorState, fault_rates_for
from optout_relay_dev.local_webhooks import (
    deliver_webhooks,
    lists_by_provider,
    register_webhooks,
    relay_until_quiet,
)

LOG_FILE_NAME = "demo-logs.jsonl"


REPORT_FILE_NAME = "demo-report.csv"


def demo(
    ctx: typer.Context,
    *,
    count: Annotated[int, typer.Option("--count", "-n", min=1, max=2000, help="Opt-outs to publish.")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the mix and of the injected faults.")] = 7,
    fault_rate: Annotated[
        float,
        typer.Option(
            "--fault-rate",
            min=0.0,
            max=0.5,
            help="Share of provider calls that fail transiently (429 with Retry-After, 5xx, dropped, slow).",
        ),
    ] = 0.05,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
) -> None:
    """Run the whole relay on this machine and print what happened.

    moto server, a simulator per provider (with injected faults) and the stack from
    template.yaml, all on loopback; a targets document with two accounts per provider
    applied as `optout-relay targets apply` would; a seeded mix of opt-outs (one list,
    everywhere, one provider's lists) published with SendMessageBatch and relayed by the
    real handler. Exit status 0 only if every event is accounted for (each target settled
    in the ledger, or in the dead-letter queue) and every fan-out is complete.
    """
    out = terminal.stderr()
    log_path = state_dir_of(ctx) / LOG_FILE_NAME
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("")
    seconds: dict[str, float] = {}
    started = time.monotonic()
    scenario = build_scenario(count, seed)
    out.print(
        f"[bold]optout-relay demo[/]: {count} opt-outs (seed {seed}), provider fault rate {fault_rate:.0%}"
    )
    receiver_log = log_path.open("a", encoding="utf-8")
    with out.status("Starting moto server, the provider simulators, the stack from template.yaml…"):
        emulator = Emulator(
            prefix=f"optout-relay-demo-{uuid.uuid4().hex[:6]}",
            fault_rates=fault_rates_for(fault_rate),
            seed=seed,
            receiver_log=receiver_log,
        )
        emulator.start()
    try:
        emulator.seed_subscriptions(scenario.subscriptions)
        state = emulator.state
        simulators = " · ".join(f"{name} at {url}" for name, url in state.simulator_urls.items())
        out.print(
            f"  AWS (moto) at {state.endpoint_url} · {simulators} · webhook receiver at {state.webhook_url}"
        )
        document = _apply_targets(state, scenario, out)
        register_webhooks(emulator, lists_by_provider(document))
        for simulator in emulator.simulators.values():
            simulator.clear_calls()  # the webhooks' registration is no opt-out: count from here
        seconds["start"] = time.monotonic() - started
        mark = time.monotonic()
        published = _publish(state, scenario, out)
        texted = _text_stops(emulator, scenario, out)
        seconds["publish"] = time.monotonic() - mark
        mark = time.monotonic()
        stats = _relay(emulator, log_path, len(published) + texted, out)
        seconds["drain"] = time.monotonic() - mark
        mark = time.monotonic()
        report = _report(
            emulator,
            scenario=scenario,
            published=published,
            stats=stats,
            seconds=seconds,
            log_path=log_path,
            fault_rate=fault_rate,
            seed=seed,
            document=document,
            texted=texted,
        )
        seconds["report"] = time.monotonic() - mark
    finally:
        emulator.stop()
        receiver_log.close()
    seconds["total"] = time.monotonic() - started
    if json_output:
        terminal.print_json(report.to_json())
    else:
        render(report, terminal.stdout())
    if not report.ok:
        raise typer.Exit(1)


def _text_stops(emulator: Emulator, scenario: Scenario, out: Console) -> int:
    """The scenario's people reply STOP at a simulator; its webhook reaches the receiver,
    which publishes one everywhere-event each. Returns how many STOPs were texted."""
    texted = sum(
        emulator.simulators[stop.provider].text_stop(stop.list_key, stop.phone_number)
        for stop in scenario.texted_stops
    )
    if not deliver_webhooks(emulator):
        raise CliError("the simulators' webhooks did not reach the local receiver")
    out.print(f"  {texted} STOPs texted at the simulators, their webhooks taken by the receiver")
    return texted


def _relay(emulator: Emulator, log_path: Path, total: int, out: Console) -> DrainStats:
    """The real handler drains the queue, with the webhooks its unsubscribes cause held until
    it has recorded them (as usually happens), then delivered, until nothing new comes."""
    state = emulator.state
    stats = DrainStats()

    def drain_once() -> None:
        more = drain(
            state.client("sqs"),
            state.queue_url,
            handler,
            total=None if stats.batches else total,
            description="Relaying" if not stats.batches else "Relaying what the webhooks published",
            console=out,
        )
        stats.batches += more.batches
        stats.records += more.records
        stats.batch_item_failures += more.batch_item_failures
        stats.seconds += more.seconds

    with local_function(state.function_environment, log_path) as handler:
        relay_until_quiet(emulator, drain_once)
    return stats


def _apply_targets(state: EmulatorState, scenario: Scenario, out: Console) -> TargetsDocument:
    """The scenario's document, applied as `optout-relay targets apply` does (which also
    creates the accounts' local secrets); the version in force, as the function reads it."""
    region = _region(state)
    raw = scenario.targets_document
    applied = apply_document(local_target(state), raw, parse_document(raw, region), region, verbose=False)
    document = parse_document(raw, region, version=int(applied["version"]))
    out.print(
        f"  Targets document version {document.version} applied: {len(document.accounts)} accounts "
        f"({', '.join(account.id for account in document.accounts)}), {document.list_count} lists"
    )
    return document


def _region(state: EmulatorState) -> str:
    return state.function_environment.get("DEFAULT_PHONE_REGION", "US")


def _publish(state: EmulatorState, scenario: Scenario, out: Console) -> list[Published]:
    outgoing = [Outgoing(event.body) for event in scenario.events]
    with terminal.progress(out) as bar:
        task = bar.add_task("Publishing (SendMessageBatch)", total=len(outgoing), detail="")
        sent = send_messages(
            state.client("sqs"), state.queue_url, outgoing, on_progress=lambda n: bar.advance(task, n)
        )
    if sent.failures:
        raise CliError(f"{len(sent.failures)} messages could not be published: {sent.failures[0].message}")
    return [
        Published(message_id, scenario.events[index].body, scenario.events[index].kind)
        for index, message_id in sorted(sent.message_ids.items())
    ]


def deadline_picture(dynamodb: Any, table_name: str, csv_path: Path) -> dict[str, Any] | None:
    """Today's opt-outs as the audit report totals them (one Query on the index); the
    report itself is written to ``csv_path``, as `optout-relay report --format csv` would."""
    now = datetime.now(UTC)
    audits = audit_period(dynamodb, table_name, now.date(), now.date(), now)
    if not audits:
        return None
    totals = totals_of(audits)
    document = Report(now.date(), now.date(), now, "the demo's emulation", None, audits, totals)
    csv_path.write_text(report_csv(document), encoding="utf-8")
    # The day's items, for `optout-relay report` once the demo's emulation is gone.
    snapshot = csv_path.with_name(DEMO_SNAPSHOT)
    snapshot.write_text(json.dumps(items_received_on(dynamodb, table_name, now.date()), default=str))
    return {
        "received": totals.received,
        "complete_within_deadline": totals.complete_within_deadline,
        "complete_late": totals.complete_late,
        "open": totals.open,
        "overdue": totals.overdue,
        "due_by": short_time(max(audit.deadline_at for audit in audits)),
        "report_csv": str(csv_path),
    }


def _report(
    emulator: Emulator,
    *,
    scenario: Scenario,
    published: list[Published],
    stats: DrainStats,
    seconds: dict[str, float],
    log_path: Path,
    fault_rate: float,
    seed: int,
    document: TargetsDocument,
    texted: int,
) -> DemoReport:
    """Reads the outcome back from the emulation: ledger rows and summaries by key, every
    DLQ message."""
    state = emulator.state
    sqs, dynamodb = state.client("sqs"), state.client("dynamodb")
    region = _region(state)
    letters = peek(
        sqs, state.dead_letter_queue_url, limit=50 * len(published) + 10, default_region=region
    ).letters
    explain_from_ledger(dynamodb, state.table_name, letters)
    assert emulator.receiver is not None
    from_webhooks = [Published(message_id, body, "webhook") for message_id, body in emulator.receiver.sent]
    expected = expectations([*published, *from_webhooks], document, region)
    target_keys, summary_keys = keys_to_read(expected)
    ledger = get_items(dynamodb, state.table_name, target_keys)
    summaries = {
        (str(item["phone_number"]), str(item["target"])): item
        for item in get_raw_items(dynamodb, state.table_name, summary_keys)
    }
    outcomes: dict[str, Counter[str]] = {}
    by_account: dict[str, Counter[str]] = {}
    for item in ledger.values():
        status = str(item.get("status"))
        outcomes.setdefault(str(item.get("provider")), Counter())[status] += 1
        by_account.setdefault(account_of(item), Counter())[status] += 1
    calls = {name: simulator.calls for name, simulator in emulator.simulators.items()}
    targets_called = sum(1 for item in ledger.values() if int(item.get("attempts", 0)) > 0)
    return DemoReport(
        deadlines=deadline_picture(dynamodb, state.table_name, log_path.with_name(REPORT_FILE_NAME)),
        published=len(published),
        outcomes=outcomes,
        by_account=by_account,
        ledger_items=len(ledger),
        document={
            "version": document.version,
            "accounts": len(document.accounts),
            "lists": document.list_count,
        },
        dead_letters=letters,
        accounting=account(expected, ledger, summaries, letters),
        provider_calls={name: len(made) for name, made in calls.items()},
        faults=Counter(str(call.fault) for made in calls.values() for call in made if call.fault),
        extra_calls=max(0, sum(len(made) for made in calls.values()) - targets_called),
        redeliveries=max(0, stats.records - len(published) - len(from_webhooks)),
        queue_left=queue_depth(sqs, state.queue_url),
        seconds=seconds,
        log_file=str(log_path),
        seed=seed,
        fault_rate=fault_rate,
        kinds=scenario.kinds(),
        webhooks=webhook_counts(texted, emulator.receiver.counts),
    )
