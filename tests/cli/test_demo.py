"""`optout-relay demo` end to end: moto server, a simulator per provider with faults, the
stack from template.yaml, a targets document applied, the real handler through the event
source mapping poller."""

from __future__ import annotations

import json
from pathlib import Path

from optout_relay_dev.cli.demo_data import KIND_WEIGHTS, build_scenario
from optout_relay_dev.cli.targets_access import parse_document

from .conftest import Cli


def test_the_demo_accounts_for_every_event(cli: Cli, state_dir: Path) -> None:
    result = cli("demo", "--count", "60", "--seed", "11", "--fault-rate", "0.1", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # nothing but the summary on stdout: no handler logs
    assert summary["ok"] is True
    assert summary["published"] == 60
    accounted = summary["accounted_for"]
    assert accounted["unaccounted"] == []
    hooks = summary["webhooks"]
    assert hooks["texted_stops"] == 2 and hooks["published"] >= 2 and hooks["echoes"] >= 1
    assert hooks["refused"] == 0 and hooks["unavailable"] == 0
    assert accounted["settled_in_ledger"] + accounted["in_dead_letter_queue"] == 60 + hooks["published"]
    assert summary["queue_messages_left"] == 0
    assert summary["targets_document"] == {"version": 1, "accounts": 4, "lists": 14}

    ledger = summary["ledger"]
    by_provider = ledger["by_provider"]
    assert set(by_provider) == {"trackly", "tatango"}
    assert sum(sum(counts.values()) for counts in by_provider.values()) == ledger["items"]
    assert sum(sum(counts.values()) for counts in ledger["by_account"].values()) == ledger["items"]
    assert set(ledger["by_account"]) == {"trackly", "trackly-brand-b", "tatango", "tatango-brand-b"}
    assert by_provider["trackly"]["unsubscribed"] > 0 and by_provider["tatango"]["unsubscribed"] > 0
    assert "retrying" not in by_provider["trackly"] and "retrying" not in by_provider["tatango"]
    assert accounted["targets_settled"] > 0 and accounted["targets_dead_lettered"] >= 0

    fan_outs = summary["fan_outs"]
    assert fan_outs["events"] >= 2 and fan_outs["complete"] == fan_outs["events"]
    assert set(fan_outs["events_by_scope"]) == {"everywhere", "provider"}
    for fan_out in fan_outs["each"]:
        assert fan_out["complete"] and fan_out["refused"] is None
        assert sum(fan_out["outcomes"].values()) == fan_out["targets"] == fan_out["summary"]["targets"]
        assert fan_out["summary"]["settled"] == fan_out["targets"]
        assert fan_out["summary"]["document_version"] == 1
        if fan_out["scope"] == "everywhere":
            assert fan_out["targets"] == (4 if fan_out["purposes"] == ["marketing"] else 14)

    dead = summary["dead_letter_queue"]
    codes = {group["error_code"]: group["messages"] for group in dead["by_error_code"]}
    assert sum(codes.values()) == dead["messages"]
    assert codes["invalid_json"] == 1
    assert sum(summary["provider_calls"].values()) > 0

    deadlines = summary["deadlines"]  # the deadline picture of the run, as the audit report judges
    assert deadlines["received"] >= 1 and deadlines["overdue"] == 0 and deadlines["complete_late"] == 0
    rows = (state_dir / "demo-report.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0] == "optout-relay audit report" and f"received,{deadlines['received']}" in rows
    # As a new user would go on: the demo's emulation is gone, the report reads its ledger.
    report = cli("report", "--from", "today", "--to", "today", "--format", "csv")
    assert report.exit_code == 0, report.output
    assert f"received,{deadlines['received']}" in report.stdout.lstrip("\ufeff").splitlines()

    logs = (state_dir / "demo-logs.jsonl").read_text().splitlines()
    assert any(json.loads(line).get("message") == "Opt-out relayed" for line in logs if line.startswith("{"))


def test_the_human_summary(cli: Cli) -> None:
    result = cli("demo", "--count", "25", "--seed", "3", "--fault-rate", "0")
    assert result.exit_code == 0, result.output
    for text in (
        "Ledger outcomes",
        "unsubscribed",
        "Target outcomes by account: tatango",
        "Fan-outs: ",
        "Dead-letter queue",
        "invalid_json",
        "Every event accounted for: 25 published + 2 from webhooks",
        "Webhooks: 2 STOPs texted at the simulators",
        "fan-outs complete",
        "Handler logs and EMF metrics",
    ):
        assert text in result.stdout
    assert "Targets document version 1 applied: 4 accounts" in result.stderr
    assert '"level"' not in result.output  # no handler log line reached the terminal


def test_the_mix_is_seeded_and_covers_every_kind() -> None:
    first, second = build_scenario(300, 7), build_scenario(300, 7)
    kinds = first.kinds()
    assert len(first.events) == 300
    for kind in (*KIND_WEIGHTS, "invalid_json", "sns_wrapped", "national_format"):
        assert kinds[kind] > 0, kind
    assert first.kinds() == second.kinds()
    assert [e.body for e in first.events] != [e.body for e in build_scenario(300, 8).events]
    assert [
        json.loads(e.body).get("provider") if e.kind != "invalid_json" else None for e in first.events
    ] == [json.loads(e.body).get("provider") if e.kind != "invalid_json" else None for e in second.events]


def test_the_document_has_two_accounts_per_provider_and_the_simulators_every_live_list() -> None:
    scenario = build_scenario(40, 5)
    document = parse_document(scenario.targets_document, "US", version=1)
    assert [(a.id, a.provider, len(a.lists)) for a in document.accounts] == [
        ("trackly", "trackly", 3),
        ("trackly-brand-b", "trackly", 4),
        ("tatango", "tatango", 3),
        ("tatango-brand-b", "tatango", 4),
    ]
    assert {a.secret_id for a in document.accounts} == {f"demo/accounts/{a.id}" for a in document.accounts}
    seeded = {(p, key) for p, state in scenario.subscriptions.items() for key in state["lists"]}
    live = {(lst.provider, lst.key) for lst in scenario.lists if not lst.retired}
    assert seeded == live and len(live) == 12
    kinds = build_scenario(20, 1).kinds()
    assert kinds["everywhere"] >= 1 and kinds["provider_scope"] >= 1 and kinds["invalid_json"] == 1
