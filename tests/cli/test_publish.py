"""`optout-relay publish`: validation with the relay's own parser, batching, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from optout_relay_dev.cli.sender import Outgoing, send_messages

from .conftest import TATANGO_LIST, TRACKLY_LIST, Cli, Local, write_csv

HEADER = "provider,phone_number,list_number,list_id,source,occurred_at"


def test_a_csv_is_validated_normalised_and_sent_in_batches(cli: Cli, local: Local, tmp_path: Path) -> None:
    rows = [f"trackly,(206) 555-01{n:02d},{TRACKLY_LIST},,crm-export,2026-04-11T12:00:00Z" for n in range(12)]
    rows.append(f"tatango,425.555.0142,,{TATANGO_LIST},support-form,")
    path = write_csv(tmp_path / "optouts.csv", HEADER, *rows)

    result = cli.json("publish", "--file", str(path))

    assert [sent["line"] for sent in result["sent"]] == list(range(2, 15))
    assert result["invalid"] == [] and result["failed"] == []
    bodies = {body["event_id"]: body for body in local.queue_bodies()}
    assert len(bodies) == 13
    first = bodies[result["sent"][0]["event_id"]]
    assert first == {
        "provider": "trackly",
        "phone_number": "+12065550100",  # normalised as the function would
        "list_number": TRACKLY_LIST,
        "event_id": result["sent"][0]["event_id"],
        "occurred_at": "2026-04-11T12:00:00Z",
        "source": "crm-export",
    }
    tatango = bodies[result["sent"][-1]["event_id"]]
    assert tatango["phone_number"] == "+14255550142" and tatango["list_id"] == TATANGO_LIST
    assert tatango["event_id"].startswith("optouts.csv:14:")


def test_publishing_the_same_file_again_reuses_its_event_ids(cli: Cli, local: Local, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "again.csv", HEADER, f"trackly,+12065550100,{TRACKLY_LIST},,,")
    first = cli.json("publish", "--file", str(path))["sent"][0]["event_id"]
    second = cli.json("publish", "--file", str(path))["sent"][0]["event_id"]
    assert first == second
    assert [body["event_id"] for body in local.queue_bodies()] == [first, first]


def test_one_bad_row_rejects_the_file_with_its_line_number(cli: Cli, local: Local, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        HEADER,
        f"trackly,+12065550100,{TRACKLY_LIST},,,",
        f"trackly,555-0100,{TRACKLY_LIST},,,",
        "tatango,+12065550101,,,,",
    )
    result = cli("publish", "--file", str(path))

    assert result.exit_code == 1
    assert "line 3" in result.output and "invalid_phone" in result.output
    assert "line 4" in result.output and "list_id is required" in result.output
    assert "2 of 3 opt-outs are invalid; nothing was sent" in result.stderr
    assert "Traceback" not in result.output
    assert local.depth(local.state.queue_url) == 0


def test_skip_invalid_sends_only_the_valid_rows(cli: Cli, local: Local, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "mixed.csv", HEADER, f"trackly,+12065550100,{TRACKLY_LIST},,,", "trackly,+12065550101,,,,"
    )
    result = cli.json("publish", "--file", str(path), "--skip-invalid")
    assert [p["line"] for p in result["invalid"]] == [3]
    assert [s["line"] for s in result["sent"]] == [2]
    assert [body["phone_number"] for body in local.queue_bodies()] == ["+12065550100"]


def test_dry_run_sends_nothing_and_needs_no_emulation(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "dry.csv", HEADER, f"trackly,(206) 555-0100,{TRACKLY_LIST},,,")
    result = cli("publish", "--file", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "+12065550100" in result.stdout
    assert "nothing was sent" in result.stdout


def test_json_lines_files_report_unreadable_lines(cli: Cli, local: Local, tmp_path: Path) -> None:
    path = tmp_path / "optouts.jsonl"
    path.write_text(
        json.dumps(
            {"provider": "tatango", "phone_number": "+12065550100", "list_id": "4242", "event_id": "e-1"}
        )
        + "\n\n{not json\n[1, 2]\n"
    )
    result = cli("publish", "--file", str(path))
    assert result.exit_code == 1
    assert "line 3" in result.output and "invalid_json" in result.output
    assert "line 4" in result.output and "not a JSON object" in result.output
    assert local.depth(local.state.queue_url) == 0


def test_a_single_event_from_flags(cli: Cli, local: Local) -> None:
    result = cli.json(
        "publish",
        "--provider",
        "tatango",
        "--phone",
        "(206) 555-0100",
        "--list-id",
        "4242",
        "--event-id",
        "ticket-81",
        "--source",
        "support-form",
    )
    assert result["sent"][0]["event_id"] == "ticket-81"
    assert local.queue_bodies() == [
        {
            "provider": "tatango",
            "phone_number": "+12065550100",
            "list_id": 4242,
            "event_id": "ticket-81",
            "source": "support-form",
        }
    ]


def test_a_single_invalid_event_is_refused(cli: Cli, local: Local) -> None:
    result = cli("publish", "--provider", "tatango", "--phone", "+442079460958", "--list-id", "4242")
    assert result.exit_code == 1
    assert "unsupported_region" in result.output
    assert local.depth(local.state.queue_url) == 0


def test_file_and_header_errors_are_one_line(cli: Cli, local: Local, tmp_path: Path) -> None:
    missing = cli("publish", "--file", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1 and "nope.csv: no such file" in missing.stderr

    header = write_csv(
        tmp_path / "header.csv", "provider,phone,list_number", "trackly,+12065550100,+18005550100"
    )
    bad_header = cli("publish", "--file", str(header))
    assert bad_header.exit_code == 1
    assert "bad CSV header: missing column phone_number" in bad_header.stderr

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "the file is empty" in cli("publish", "--file", str(empty)).stderr

    other = tmp_path / "optouts.xlsx"
    other.write_text("x")
    assert "unsupported file type .xlsx" in cli("publish", "--file", str(other)).stderr

    directory = tmp_path / "folder.csv"
    directory.mkdir()
    assert "is a directory, not a file" in cli("publish", "--file", str(directory)).stderr

    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"provider,phone_number\n\xff\xfe,\x00\n")
    assert "not UTF-8 text" in cli("publish", "--file", str(binary)).stderr

    for result in (missing, bad_header):
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert local.depth(local.state.queue_url) == 0


def test_publishing_needs_a_running_emulation_or_a_stack(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", HEADER, f"trackly,+12065550100,{TRACKLY_LIST},,,")
    result = cli("publish", "--file", str(path))
    assert result.exit_code == 1
    assert "no local emulation is running" in result.stderr
    assert "optout-relay local up" in result.stderr


class FlakySqs:
    """SendMessageBatch that fails some entries the first time (as SQS may under load)."""

    def __init__(self, fail_first: set[str], sender_fault: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.fail_first = set(fail_first)
        self.sender_fault = set(sender_fault)
        self.calls: list[list[str]] = []
        self.delivered: list[str] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([entry["Id"] for entry in Entries])
        successful, failed = [], []
        for entry in Entries:
            if entry["Id"] in self.sender_fault:
                failed.append(
                    {
                        "Id": entry["Id"],
                        "SenderFault": True,
                        "Code": "InvalidMessageContents",
                        "Message": "bad characters",
                    }
                )
            elif entry["Id"] in self.fail_first:
                self.fail_first.discard(entry["Id"])
                failed.append(
                    {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
                )
            else:
                self.delivered.append(entry["MessageBody"])
                successful.append({"Id": entry["Id"], "MessageId": f"m-{entry['Id']}"})
        return {"Successful": successful, "Failed": failed}


def test_failed_batch_entries_are_retried_and_sender_faults_reported() -> None:
    sqs = FlakySqs(fail_first={"3", "12"}, sender_fault={"5"})
    messages = [Outgoing(f"body-{i}") for i in range(15)]
    waits: list[float] = []

    report = send_messages(sqs, "https://queue", messages, sleep=waits.append)

    assert sqs.calls == [[str(i) for i in range(10)], ["3"], [str(i) for i in range(10, 15)], ["12"]]
    assert sorted(report.message_ids) == [i for i in range(15) if i != 5]
    assert [(f.index, f.code) for f in report.failures] == [(5, "InvalidMessageContents")]
    assert report.retried_entries == 2 and len(waits) == 2
    assert sorted(sqs.delivered) == sorted(f"body-{i}" for i in range(15) if i != 5)


def test_entries_failing_every_attempt_are_reported_not_lost() -> None:
    class AlwaysFailing(FlakySqs):
        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            self.fail_first.update(entry["Id"] for entry in Entries if entry["Id"] == "0")
            return super().send_message_batch(QueueUrl, Entries)

    sqs = AlwaysFailing(fail_first=set())
    report = send_messages(sqs, "https://queue", [Outgoing("a"), Outgoing("b")], sleep=lambda _: None)
    assert sorted(report.message_ids) == [1]
    assert [(f.index, f.code) for f in report.failures] == [(0, "InternalError")]
    assert len(sqs.calls) == 4  # the first try and three retries
