"""`optout-relay report`: a seeded ledger (report_scenario) read by day through the
by-received-day index, judged as of a fixed now, as a table, CSV and JSON."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from optout_relay.domain.timestamps import parse_utc
from optout_relay_dev.cli.received_index import items_received_on
from optout_relay_dev.cli.report import audit_period
from optout_relay_dev.cli.target import state_file
from optout_relay_dev.emulator import Emulator, EmulatorState, MotoServer, write_state

from .conftest import Cli
from .ledger_seed import ensure_received_day_index, index_definition, seed
from .report_scenario import (
    ATTACK,
    EXPECTED_TOTALS,
    EXPECTED_VERDICTS,
    FIRST,
    IN_PERIOD,
    LAST,
    NOW,
    OUTSIDE,
    PERIOD_DAYS,
    TATANGO,
    TRACKLY,
)

PERIOD = ("--from", FIRST, "--to", LAST)
LEGACY_ITEM = {  # written before issue 11: no received_at, so in no report
    "phone_number": {"S": "+12065550101"},
    "target": {"S": "trackly#+18005550100#e-legacy#unsubscribed"},
    "target_key": {"S": "trackly#+18005550100#e-legacy"},
    "event_id": {"S": "e-legacy"},
    "status": {"S": "unsubscribed"},
    "processed_at": {"S": "2026-11-03T10:00:00.000Z"},
}


@dataclass
class Seeded:
    cli: Cli
    state: EmulatorState


@pytest.fixture(scope="module")
def seeded(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One emulation for the module, its ledger seeded once (the report only reads)."""
    state_dir = tmp_path_factory.mktemp("report") / "state"
    with Emulator(prefix=f"cli-report-{uuid.uuid4().hex[:8]}", moto=moto_server) as emulator:
        write_state(state_file(state_dir), emulator.state)
        dynamodb = emulator.state.client("dynamodb")
        ensure_received_day_index(dynamodb, emulator.state.table_name)
        seed(dynamodb, emulator.state.table_name, IN_PERIOD + OUTSIDE)
        dynamodb.put_item(TableName=emulator.state.table_name, Item=LEGACY_ITEM)
        yield Seeded(Cli(state_dir), emulator.state)


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTOUT_RELAY_REPORT_NOW", NOW)


class RecordingClient:
    """A DynamoDB client that notes every operation and its key condition values."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        def call(**request: Any) -> Any:
            self.calls.append((operation, request))
            return getattr(self.client, operation)(**request)

        return call


def _report_json(cli: Cli, *args: str) -> Any:
    result = cli("report", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_totals_and_verdicts_of_the_period_are_exact(seeded: Seeded) -> None:
    document = _report_json(seeded.cli, *PERIOD)
    assert document["totals"] == EXPECTED_TOTALS
    assert document["report"] == {
        "from": FIRST,
        "to": LAST,
        "as_of": NOW,
        "source": document["report"]["source"],
    }
    verdicts = {
        o["event_id"]: (o["verdict"], o["business_days_taken"], o["business_days_left"])
        for o in document["opt_outs"]
    }
    assert verdicts == EXPECTED_VERDICTS  # nothing received on 11-01 or 11-21 (UTC days)

    by_event = {o["event_id"]: o for o in document["opt_outs"]}
    late = by_event["e-fanout-late-weekend"]
    assert late["deadline_at"] == "2026-11-21T04:59:59.999Z"  # end of Friday 11-20 in New York
    assert late["completed_at"] == "2026-11-21T15:00:00.000Z"

    within = by_event["e-fanout-within"]
    assert within["scope"] == "everywhere"
    targets = {t["name"]: t for t in within["targets"]}
    assert targets[TRACKLY]["attempts"] == 3  # 2 retries and the call that succeeded
    assert targets[TRACKLY]["evidence"]["unsubscribed"] is True
    assert targets[TATANGO]["evidence"]["opted_out_at"] == "2026-11-04T09:59:58Z"
    assert targets[TATANGO]["business_days_taken"] == 2

    open_targets = [(t["name"], t["status"]) for t in by_event["e-fanout-open"]["targets"]]
    assert open_targets == [
        (TRACKLY, "unsubscribed"),
        (TATANGO, "retrying"),
        ("acme-east#+18005550199", "pending"),
    ]
    [failed] = by_event["e-single-late-failed"]["targets"]
    assert (failed["status"], failed["error_code"], failed["attempts"]) == ("failed", "server_error", 5)


def test_the_table_shows_totals_and_every_opt_out(seeded: Seeded) -> None:
    result = seeded.cli("report", *PERIOD)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Received 8 · complete within deadline 3 · complete late 2" in out
    assert "open 2 (fewest business days left: 8) · overdue 1" in out
    assert "1 complete opt-out(s) have a target rejected or failed" in out
    for event_id in EXPECTED_VERDICTS:
        assert event_id in out
    assert "e-day-before" not in out and "e-day-after" not in out
    assert "complete late" in out and "10 business days" in out and "5 business days past" in out
    assert f"{PERIOD_DAYS}/{PERIOD_DAYS}" in result.stderr  # the progress bar: one step per day


def test_the_csv_parses_back_one_row_per_target(seeded: Seeded, tmp_path: Path) -> None:
    path = tmp_path / "audit.csv"
    result = seeded.cli("report", *PERIOD, "--output", str(path))  # the format from the extension
    assert result.exit_code == 0, result.output
    assert str(path) in result.stderr and "csv report of 8 opt-out(s)" in result.stderr
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")

    with path.open(encoding="utf-8-sig", newline="") as file:
        lines = list(csv.reader(file))
    blank = lines.index([])
    about = {row[0]: row[1] for row in lines[1:blank]}
    assert lines[0] == ["optout-relay audit report"]
    assert (about["from"], about["to"], about["as_of"]) == (FIRST, LAST, NOW)
    assert {name: about[name] for name in EXPECTED_TOTALS} == {k: str(v) for k, v in EXPECTED_TOTALS.items()}

    header = lines[blank + 1]
    rows = [dict(zip(header, line, strict=True)) for line in lines[blank + 2 :]]
    assert len(rows) == sum(len(o.targets) for o in IN_PERIOD) == 14
    assert {row["event_id"] for row in rows} == set(EXPECTED_VERDICTS)
    phones = {row["phone_number"] for row in rows}
    assert phones == {"'+1206555010" + str(n) for n in range(1, 8)}  # text, not a formula or a number
    first = next(row for row in rows if row["event_id"] == "e-fanout-within" and row["target"] == TATANGO)
    assert first["received_at"] == "2026-11-02T14:00:00.000Z"
    assert first["verdict"] == "complete_within_deadline"
    assert first["evidence_request_id"] == "'" + ATTACK  # never run as a formula
    assert first["evidence_opted_out_at"] == "2026-11-04T09:59:58Z"
    assert (first["status"], first["settled_at"], first["target_business_days_taken"]) == (
        "unsubscribed",
        "2026-11-04T10:00:00.000Z",
        "2",
    )
    overdue = [row for row in rows if row["event_id"] == "e-fanout-overdue"]
    assert [(r["status"], r["business_days_left"]) for r in overdue] == [
        ("unsubscribed", "-5"),
        ("retrying", "-5"),
    ]
    assert next(r for r in rows if r["event_id"] == "e-single-open")["error_code"] == "server_error"


def test_an_existing_output_file_is_not_overwritten_without_force(seeded: Seeded, tmp_path: Path) -> None:
    path = tmp_path / "audit.json"
    path.write_text("last quarter's report")
    refused = seeded.cli("report", *PERIOD, "--output", str(path))
    assert refused.exit_code == 1 and "exists" in refused.stderr
    assert path.read_text() == "last quarter's report"
    replaced = seeded.cli("report", *PERIOD, "--output", str(path), "--force")
    assert replaced.exit_code == 0, replaced.output
    assert json.loads(path.read_text())["totals"] == EXPECTED_TOTALS
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_one_index_query_per_day_and_never_a_scan(seeded: Seeded) -> None:
    client = RecordingClient(seeded.state.client("dynamodb"))
    audits = audit_period(
        client, seeded.state.table_name, date(2026, 11, 2), date(2026, 11, 20), parse_utc(NOW)
    )
    assert [audit.event_id for audit in audits] == [o.event_id for o in IN_PERIOD]  # in order of receipt
    assert [op for op, _ in client.calls] == ["query"] * PERIOD_DAYS
    days = [request["ExpressionAttributeValues"][":day"]["S"] for _, request in client.calls]
    assert days == [f"2026-11-{day:02d}" for day in range(2, 21)]
    assert {request["IndexName"] for _, request in client.calls} == {"by-received-day"}


def test_a_day_is_read_whole_across_pages(seeded: Seeded) -> None:
    client = RecordingClient(seeded.state.client("dynamodb"))
    whole = items_received_on(client, seeded.state.table_name, date(2026, 11, 2))
    paged = items_received_on(client, seeded.state.table_name, date(2026, 11, 2), page_size=2)
    assert len(whole) == 9 and paged == whole  # 5 items of a fan-out, 1 of a single, 3 of a fan-out
    assert len(client.calls) == 1 + 5 and {op for op, _ in client.calls} == {"query"}


def test_one_number_is_one_query_on_its_partition(seeded: Seeded) -> None:
    client = RecordingClient(seeded.state.client("dynamodb"))
    audits = audit_period(
        client,
        seeded.state.table_name,
        date(2026, 11, 1),
        date(2026, 11, 21),
        parse_utc(NOW),
        phone_number="+12065550101",
    )
    assert [op for op, _ in client.calls] == ["query"] and "IndexName" not in client.calls[0][1]
    # Not the item written before the relay recorded received_at: nothing dates it.
    assert [audit.event_id for audit in audits] == [
        "e-day-before",
        "e-fanout-within",
        "e-single-within-2",
        "e-day-after",
    ]
    assert audits[-1].verdict == "open" and audits[-1].business_days_left == 8

    document = _report_json(seeded.cli, "--from", FIRST, "--to", LAST, "--phone", "(206) 555-0101")
    assert document["report"]["phone_number"] == "+12065550101"
    assert [o["event_id"] for o in document["opt_outs"]] == ["e-fanout-within", "e-single-within-2"]
    assert document["totals"]["received"] == 2 and document["totals"]["complete_within_deadline"] == 2


def test_a_period_without_opt_outs(seeded: Seeded) -> None:
    result = seeded.cli("report", "--from", "2026-10-01", "--to", "2026-10-03")
    assert result.exit_code == 0, result.output
    assert "Received 0" in result.stdout and "No opt-out was received in this period" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2026-11-31", "--to", "2026-12-01"), "--from '2026-11-31' is not a date: use YYYY-MM-DD"),
        (("--from", "20261101", "--to", "2026-12-01"), "--from '20261101' is not a date"),
        (("--from", "2026-11-02", "--to", "yesterday"), "--to 'yesterday' is not a date"),
        (("--from", "2026-11-20", "--to", "2026-11-02"), "--from 2026-11-20 is after --to 2026-11-02"),
        (("--from", "today", "--to", "2026-11-02"), "--from 2026-11-24 is after --to 2026-11-02"),
        (("--from", "today", "--to", "today", "--now", "soon"), "(OPTOUT_RELAY_REPORT_NOW) 'soon' is not an"),
        (("--from", "2025-01-01", "--to", "2026-01-02"), "is 367 days: a report covers at most 366"),
        (("--from", "today", "--to", "today", "--phone", "555-0100"), "--phone is not a valid"),
    ],
)
def test_mistakes_are_one_line(cli: Cli, args: tuple[str, ...], message: str) -> None:
    result = cli("report", *args)
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output


def _stack(table: dict[str, Any]) -> dict[str, Any]:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": table}},
        "Outputs": {"ResultsTableName": {"Value": {"Ref": "Table"}}},
    }


def _table_properties(with_index: bool) -> dict[str, Any]:
    names = ["phone_number", "target"] + (["received_day", "received_key"] if with_index else [])
    properties: dict[str, Any] = {
        "TableName": "relay-report-results",
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in names],
        "KeySchema": [
            {"AttributeName": "phone_number", "KeyType": "HASH"},
            {"AttributeName": "target", "KeyType": "RANGE"},
        ],
    }
    if with_index:
        properties["GlobalSecondaryIndexes"] = [index_definition()]
    return properties


@pytest.mark.parametrize("with_index", [True, False])
def test_a_deployed_stack(cli: Cli, with_index: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        template = json.dumps(_stack(_table_properties(with_index)))
        session.client("cloudformation").create_stack(StackName="relay-report", TemplateBody=template)
        if with_index:
            seed(session.client("dynamodb"), "relay-report-results", IN_PERIOD + OUTSIDE)
        result = cli(
            "report", *PERIOD, "--format", "json", "--stack-name", "relay-report", "--region", "us-east-1"
        )
    if with_index:
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        assert document["totals"] == EXPECTED_TOTALS
        assert document["report"]["source"] == "stack relay-report in us-east-1"
    else:
        assert result.exit_code == 1
        assert "has no index by-received-day" in result.stderr
