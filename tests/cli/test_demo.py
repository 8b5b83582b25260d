"""`optout-relay demo` end to end: moto server, both simulators with faults, the stack
from template.yaml, the real handler through the event source mapping poller."""

from __future__ import annotations

import json
from pathlib import Path

from optout_relay_dev.cli.demo_data import build_scenario

from .conftest import Cli


def test_the_demo_accounts_for_every_event(cli: Cli, state_dir: Path) -> None:
    result = cli("demo", "--count", "60", "--seed", "11", "--fault-rate", "0.1", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # nothing but the summary on stdout: no handler logs
    assert summary["ok"] is True
    assert summary["published"] == 60
    accounted = summary["accounted_for"]
    assert accounted["unaccounted"] == []
    assert accounted["settled_in_ledger"] + accounted["in_dead_letter_queue"] == 60
    assert summary["queue_messages_left"] == 0

    by_provider = summary["ledger"]["by_provider"]
    assert set(by_provider) == {"trackly", "tatango"}
    assert (
        sum(by_provider["trackly"].values()) + sum(by_provider["tatango"].values())
        == summary["ledger"]["items"]
    )
    assert by_provider["trackly"]["unsubscribed"] > 0 and by_provider["tatango"]["unsubscribed"] > 0
    assert "retrying" not in by_provider["trackly"] and "retrying" not in by_provider["tatango"]

    dead = summary["dead_letter_queue"]
    codes = {group["error_code"]: group["messages"] for group in dead["by_error_code"]}
    assert sum(codes.values()) == dead["messages"] == accounted["in_dead_letter_queue"]
    assert codes["invalid_json"] == 1
    assert sum(summary["provider_calls"].values()) > 0

    logs = (state_dir / "demo-logs.jsonl").read_text().splitlines()
    assert any(json.loads(line).get("message") == "Opt-out relayed" for line in logs if line.startswith("{"))


def test_the_human_summary(cli: Cli) -> None:
    result = cli("demo", "--count", "25", "--seed", "3", "--fault-rate", "0")
    assert result.exit_code == 0, result.output
    for text in (
        "Ledger outcomes",
        "unsubscribed",
        "Dead-letter queue",
        "invalid_json",
        "Every event accounted for: 25 published",
        "Handler logs and EMF metrics",
    ):
        assert text in result.stdout
    assert '"level"' not in result.output  # no handler log line reached the terminal


def test_the_mix_is_seeded_and_covers_every_kind() -> None:
    first, second = build_scenario(300, 7), build_scenario(300, 7)
    kinds = first.kinds()
    assert len(first.events) == 300
    for kind in (
        "subscribed",
        "not_subscribed",
        "both_providers",
        "duplicate",
        "invalid_phone",
        "unknown_list",
        "non_us_tatango",
        "missing_list",
        "invalid_json",
        "sns_wrapped",
        "national_format",
    ):
        assert kinds[kind] > 0, kind
    assert first.kinds() == second.kinds()
    assert [
        json.loads(e.body).get("provider") if e.kind != "invalid_json" else None for e in first.events
    ] == [json.loads(e.body).get("provider") if e.kind != "invalid_json" else None for e in second.events]
