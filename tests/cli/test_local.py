"""`optout-relay local up|status|drain|down`: the emulation as a real background process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from optout_relay_dev.cli.target import process_alive
from optout_relay_dev.emulator import read_state

from tests.targets_samples import sample_document

from .conftest import Cli, write_csv

TRACKLY_LIST = "+18005550100"


def run(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script's code, in a process of its own."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from optout_relay_dev.cli import main; main()",
            "--state-dir",
            str(state_dir),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=None,
    )


@pytest.fixture
def background(cli: Cli, state_dir: Path, tmp_path: Path) -> Iterator[Path]:
    subscribed = write_csv(
        tmp_path / "subscribed.csv",
        "provider,phone_number,list_number,list_id",
        f"trackly,+12065550100,{TRACKLY_LIST},",
        "tatango,+12065550100,,4242",
    )
    started = cli("local", "up", "--subscribed", str(subscribed))
    assert started.exit_code == 0, started.output
    try:
        yield subscribed
    finally:
        state = read_state(state_dir / "local.json")
        stopped = cli("local", "down")
        assert stopped.exit_code == 0, stopped.output
        if state is not None:
            assert not process_alive(state.pid)


def test_up_publish_drain_status_down(cli: Cli, state_dir: Path, background: Path, tmp_path: Path) -> None:
    state = read_state(state_dir / "local.json")
    assert state is not None and state.endpoint_url.startswith("http://127.0.0.1:")
    assert process_alive(state.pid)

    again = cli("local", "up")
    assert again.exit_code == 0 and "already running" in again.stdout

    status = cli("local", "status")
    assert status.exit_code == 0 and state.queue_url in status.stdout

    optouts = write_csv(
        tmp_path / "optouts.csv",
        "provider,phone_number,list_number,list_id",
        f"trackly,(206) 555-0100,{TRACKLY_LIST},",
        "tatango,206-555-0100,,4242",
        "tatango,206-555-0100,,999",
    )
    published = cli.json("publish", "--file", str(optouts))
    assert len(published["sent"]) == 3

    drained = cli("local", "drain")  # the handler runs here, against the background process
    assert drained.exit_code == 0, drained.output
    assert "dead-letter queue holds 1 message(s)" in drained.stdout

    items = {
        item["provider"]: item["status"]
        for item in cli.json("status", "+12065550100")["items"]
        if item["status"] != "rejected"
    }
    assert items == {"trackly": "unsubscribed", "tatango": "unsubscribed"}
    [letter] = cli.json("dlq", "list")["messages"]
    assert letter["error_code"] == "list_not_found"

    assert cli("dlq", "redrive", "--yes").exit_code == 0
    assert cli("local", "drain").exit_code == 0
    assert [m["error_code"] for m in cli.json("dlq", "list")["messages"]] == ["list_not_found"]


def test_status_and_down_when_nothing_runs(cli: Cli, state_dir: Path) -> None:
    status = cli("local", "status")
    assert status.exit_code == 1 and "No local emulation is running" in status.stdout
    down = cli("local", "down")
    assert down.exit_code == 0 and "No local emulation is running" in down.stdout
    # The console script itself, in its own process: one line, no stack trace.
    drain = run(state_dir, "local", "drain")
    assert drain.returncode == 1
    assert drain.stderr.strip().startswith("error: no local emulation is running")
    assert len(drain.stderr.strip().splitlines()) == 1


def test_up_reports_a_port_in_use(state_dir: Path, background: Path) -> None:
    state = read_state(state_dir / "local.json")
    assert state is not None
    port = state.endpoint_url.rsplit(":", 1)[1]
    other = state_dir.parent / "other-state"
    result = Cli(other)("local", "up", "--port", port)
    assert result.exit_code == 1
    assert "the local emulation could not start: port" in result.stderr and "is not free" in result.stderr
    assert not (other / "local.json").exists()
    assert json.loads((state_dir / "local.json").read_text())["pid"] == state.pid


def test_up_with_a_targets_document(cli: Cli, state_dir: Path, tmp_path: Path) -> None:
    document = sample_document()
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"accounts": [{"id": "Brand B"}]}), encoding="utf-8")
    refused = cli("local", "up", "--targets", str(bad))
    assert refused.exit_code == 1 and "is not a valid targets document" in refused.stderr
    assert read_state(state_dir / "local.json") is None  # refused before anything started

    good = tmp_path / "targets.yaml"
    good.write_text(yaml.safe_dump(document), encoding="utf-8")
    started = cli("local", "up", "--targets", str(good))
    try:
        assert started.exit_code == 0, started.output
        assert "Applied version 1 (from no document)" in started.stdout
        shown = cli.json("targets", "show")
        assert shown["version"] == 1
        assert shown["document"] == json.loads(json.dumps(document))
        # brand-b's base URL is off this machine: said at once, and its target ends failed
        # in the DLQ after its receives, not postponed for ever. The document's other lists
        # exist at the simulators.
        assert "tatango-brand-b: base_url https://tatango.example.com/ is not the local" in started.stderr
        assert cli("publish", "--everywhere", "--phone", "+12065550100").exit_code == 0
        drained = cli("local", "drain", "--max-seconds", "120")
        assert drained.exit_code == 0, drained.output
        items = cli.json("status", "+12065550100")["items"]
        by_account = {(item["account"], item["status"]) for item in items}
        assert by_account == {
            ("tatango-brand-a", "not_subscribed"),
            ("tatango-brand-b", "failed"),
            ("trackly", "not_subscribed"),
        }
        assert {item.get("error_code") for item in items if item["status"] == "failed"} <= {
            "timeout",
            "connection_error",
        }
        assert [row["target"] for row in cli.json("dlq", "list")["messages"]] == ["tatango-brand-b#5000"]
    finally:
        assert cli("local", "down").exit_code == 0
