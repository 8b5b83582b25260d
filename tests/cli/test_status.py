"""`optout-relay local drain` and `status PHONE` on the emulation."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from optout_relay_dev.emulator import EmulatorState, write_state
from optout_relay_dev.simulators.faults import Fault

from .conftest import TATANGO_LIST, TRACKLY_LIST, Cli, Local, write_csv
from .fanout_items import put_items, summary_item, target_row


def test_published_file_drained_and_audited_by_number(cli: Cli, local: Local, tmp_path: Path) -> None:
    local.subscribe(trackly=["+12065550100"], tatango=["+12065550100"])
    path = write_csv(
        tmp_path / "optouts.csv",
        "provider,phone_number,list_number,list_id,occurred_at",
        f"trackly,(206) 555-0100,{TRACKLY_LIST},,2026-04-11T12:00:00Z",
        f"tatango,206-555-0100,,{TATANGO_LIST},2026-04-11T12:05:00Z",
        f"trackly,+12065550199,{TRACKLY_LIST},,",
    )
    assert cli("publish", "--file", str(path)).exit_code == 0

    drained = cli("local", "drain")
    assert drained.exit_code == 0, drained.output
    assert "Handled 3 record(s)" in drained.stdout
    assert local.depth(local.state.queue_url) == 0
    assert not local.simulator("trackly").is_subscribed(TRACKLY_LIST, "+12065550100")
    assert not local.simulator("tatango").is_subscribed(str(TATANGO_LIST), "+12065550100")

    status = cli.json("status", "(206) 555-0100")
    assert status["phone_number"] == "+12065550100"
    items = {item["provider"]: item for item in status["items"]}
    assert items["trackly"]["status"] == "unsubscribed" and items["trackly"]["list_number"] == TRACKLY_LIST
    assert items["tatango"]["status"] == "unsubscribed" and items["tatango"]["list_id"] == TATANGO_LIST
    assert items["trackly"]["occurred_at"] == "2026-04-11T12:00:00Z"
    assert items["trackly"]["event_id"].startswith("optouts.csv:2:")
    assert items["trackly"]["evidence"]["unsubscribed"] is True
    assert items["tatango"]["evidence"]["opted_out_at"].endswith("Z")
    assert items["tatango"]["settled_at"] == items["tatango"]["processed_at"]

    table = cli("status", "+12065550100")
    assert table.exit_code == 0
    assert "unsubscribed" in table.stdout and "tatango" in table.stdout and "trackly" in table.stdout
    assert "Opted out everywhere it was sent" in table.stdout
    assert "opted out 20" in table.stdout and "Date 20" in table.stdout  # the providers' evidence
    # Occurred 2026-04-11 and honoured today: each opt-out's deadline, and that it was late.
    assert "due 2026-04-2" in table.stdout and "complete late" in table.stdout
    deadlines = [event["deadline"] for event in cli.json("status", "+12065550100")["events"]]
    assert {d["verdict"] for d in deadlines} == {"complete late"}
    assert any(d["received_at"] == "2026-04-11T12:00:00.000Z" for d in deadlines)

    other = cli.json("status", "+12065550199")["items"]
    assert [item["status"] for item in other] == ["not_subscribed"]


def test_a_number_with_a_dead_lettered_event_is_not_settled(cli: Cli, local: Local) -> None:
    local.send({"provider": "tatango", "phone_number": "+12065550100", "list_id": 9999, "event_id": "e-9"})
    assert cli("local", "drain").exit_code == 0
    result = cli("status", "+12065550100")
    assert result.exit_code == 0
    assert "rejected" in result.stdout and "list_not_found" in result.stdout
    assert "Not settled at 1 of 1 target(s)" in result.stdout


def test_status_of_an_unknown_number_says_so(cli: Cli, local: Local) -> None:
    result = cli("status", "+12065550111")
    assert result.exit_code == 0
    assert "No ledger entries for +12065550111" in result.stdout
    assert cli.json("status", "+12065550111")["items"] == []


def test_status_refuses_an_invalid_number(cli: Cli, local: Local) -> None:
    result = cli("status", "555-0100")
    assert result.exit_code == 1
    assert "error: the phone number is not a valid" in result.stderr


def test_draining_an_empty_queue(cli: Cli, local: Local) -> None:
    result = cli("local", "drain")
    assert result.exit_code == 0 and "nothing to drain" in result.stdout


def test_a_stale_state_file_is_not_a_running_emulation(cli: Cli, local: Local, state_dir: Path) -> None:
    dead = EmulatorState(**{**asdict(local.state), "pid": 999_999_999})
    write_state(state_dir / "local.json", dead)
    result = cli("status", "+12065550100")
    assert result.exit_code == 1
    assert "no local emulation is running" in result.stderr


def test_a_corrupt_state_file_is_reported(cli: Cli, state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    (state_dir / "local.json").write_text('{"version": 1, "pid": 1}')
    result = cli("dlq", "list")
    assert result.exit_code == 1
    assert "cannot read" in result.stderr and "local.json" in result.stderr


PHONE = "+12065550100"


def _fan_outs(local: Local) -> None:
    """Two fan-outs and a one-list event for PHONE, as the relay records them."""
    everywhere = ["trackly#+18005550100", "trackly-b#+18005550103", "tatango#4242", "tatango-b#4245"]
    put_items(
        local.state.client("dynamodb"),
        local.state.table_name,
        [
            target_row(PHONE, "one-1", "trackly", "trackly", TRACKLY_LIST, "unsubscribed", occurred_at=EARLY),
            summary_item(PHONE, "fan-1", "everywhere", everywhere, 4, document_version=3),
            target_row(PHONE, "fan-1", "trackly", "trackly", "+18005550100", "not_subscribed"),
            target_row(PHONE, "fan-1", "trackly-b", "trackly", "+18005550103", "unsubscribed", attempts=2),
            target_row(PHONE, "fan-1", "tatango", "tatango", 4242, "not_subscribed", http_status=404),
            target_row(
                PHONE,
                "fan-1",
                "tatango-b",
                "tatango",
                4245,
                "rejected",
                http_status=404,
                error_code="list_not_found",
                error_message="tatango has no list 4245",
            ),
            summary_item(PHONE, "fan-2", "provider", ["tatango#4242", "tatango-b#4246"], 1, occurred_at=LATE),
            target_row(PHONE, "fan-2", "tatango", "tatango", 4242, "not_subscribed", occurred_at=LATE),
        ],
    )


EARLY, LATE = "2026-04-11T11:00:00Z", "2026-04-11T13:00:00Z"


def test_status_groups_outcomes_by_event_with_each_fan_out_summary(cli: Cli, local: Local) -> None:
    _fan_outs(local)

    status = cli.json("status", PHONE)

    events = {event["event_id"]: event for event in status["events"]}
    assert [event["event_id"] for event in status["events"]] == ["one-1", "fan-1", "fan-2"]
    assert events["one-1"]["scope"] is None and events["one-1"]["complete"] is True
    fan_1 = events["fan-1"]
    assert (fan_1["scope"], fan_1["document_version"], fan_1["targets"], fan_1["settled"]) == (
        "everywhere",
        3,
        4,
        4,
    )
    assert fan_1["complete"] is True and fan_1["pending"] == []
    assert {(row["account"], row["status"]) for row in fan_1["rows"]} == {
        ("trackly", "not_subscribed"),
        ("trackly-b", "unsubscribed"),
        ("tatango", "not_subscribed"),
        ("tatango-b", "rejected"),
    }
    fan_2 = events["fan-2"]
    assert (fan_2["settled"], fan_2["targets"], fan_2["complete"]) == (1, 2, False)
    assert fan_2["pending"] == ["tatango-b#4246"]
    assert len(status["items"]) == 6  # target rows only: summaries are not targets


def test_status_table_shows_each_fan_out_and_its_targets(cli: Cli, local: Local) -> None:
    _fan_outs(local)

    result = cli("status", "(206) 555-0100")

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"{PHONE}: 3 event(s), 6 target outcome(s)" in out
    assert "event fan-1 · everywhere · document v3 · 4/4 settled · complete 2026-04-11 12:00:02Z" in out
    assert "event fan-2 · provider · document v1 · 1/2 settled · not complete" in out
    assert "event one-1 · one list" in out
    assert "tatango-b" in out and "list_not_found: tatango has no list 4245" in out
    assert "pending" in out and "no outcome yet" in out
    assert "Fan-outs: 1 of 2 complete; not yet: fan-2 (1/2)." in out
    assert "Not settled at 2 of 5 target(s):" in out
    assert "tatango-b 4245 (rejected)" in out and "tatango-b 4246 (pending)" in out


def test_drain_stops_at_its_time_limit_and_says_what_is_left(cli: Cli, local: Local) -> None:
    # A Retry-After beyond the relay's cap: the record is deferred for two minutes, not slept on.
    local.simulator("trackly").script(Fault.rate_limited(retry_after="120"))
    local.send({"provider": "trackly", "phone_number": "+12065550100", "list_number": TRACKLY_LIST})
    result = cli("local", "drain", "--max-seconds", "2")
    assert result.exit_code == 1
    assert "1 message(s) still in the queue after 2 s" in result.stderr
    assert "are not lost" in result.stderr
    assert local.depth(local.state.queue_url) == 1
