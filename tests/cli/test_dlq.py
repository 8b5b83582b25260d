"""`optout-relay dlq list` and `dlq redrive`, on the emulation and (move task) on AWS."""

from __future__ import annotations

import json
from typing import Any

from botocore.stub import Stubber
from optout_relay.aws.ledger import DynamoLedger
from optout_relay.domain.model import LedgerEntry, Status, target_id
from optout_relay_dev.cli.dead_letters import start_move_task, wait_for_move_task

from .conftest import TATANGO_LIST, Cli, Local
from .fanout_items import put_items, target_row

INVALID = {
    "provider": "trackly",
    "phone_number": "555-0100",
    "list_number": "+18005550100",
    "event_id": "bad-1",
}
UNKNOWN_LIST = {"provider": "tatango", "phone_number": "+12065550100", "list_id": 9999, "event_id": "bad-2"}


def test_dlq_list_shows_code_reason_provider_and_event(cli: Cli, local: Local) -> None:
    local.send(INVALID, UNKNOWN_LIST)
    assert cli("local", "drain").exit_code == 0

    listed = {m["event_id"]: m for m in cli.json("dlq", "list")["messages"]}

    assert listed["bad-1"]["error_code"] == "invalid_phone"
    assert listed["bad-1"]["provider"] == "trackly"
    assert "not a valid" in listed["bad-1"]["reason"]
    assert listed["bad-2"]["error_code"] == "list_not_found"
    assert listed["bad-2"]["reason"] == "tatango has no list 9999"
    assert listed["bad-2"]["ledger_status"] == "rejected"
    assert all(not m["by_redrive_policy"] for m in listed.values())
    # Listing does not consume: both are still there, and visible.
    assert local.depth(local.state.dead_letter_queue_url) == 2
    table = cli("dlq", "list")
    assert "invalid_phone" in table.stdout and "list_not_found" in table.stdout and "bad-2" in table.stdout


def test_a_message_moved_by_the_redrive_policy_explains_itself_from_the_ledger(
    cli: Cli, local: Local
) -> None:
    body = {
        "provider": "tatango",
        "phone_number": "+12065550100",
        "list_id": TATANGO_LIST,
        "event_id": "slow-1",
    }
    # What the redrive policy leaves: the original body, no error attributes; the ledger
    # holds the last transient error.
    DynamoLedger(local.state.table_name, dynamodb=local.state.client("dynamodb")).record(
        LedgerEntry(
            phone_number="+12065550100",
            target=f"tatango#{TATANGO_LIST}#slow-1",
            event_id="slow-1",
            provider="tatango",
            status=Status.FAILED,
            message_id="m-1",
            receive_count=5,
            list_field="list_id",
            list_value=str(TATANGO_LIST),
            attempts_added=3,
            http_status=503,
            error_code="provider_unavailable",
            error_message="tatango answered 503: Service temporarily unavailable",
        )
    )
    local.sqs.send_message(QueueUrl=local.state.dead_letter_queue_url, MessageBody=json.dumps(body))

    [message] = cli.json("dlq", "list")["messages"]

    assert message["by_redrive_policy"] is True
    assert message["error_code"] == "provider_unavailable"
    assert message["reason"].startswith(
        "exhausted retries (redrive policy); last error: tatango answered 503"
    )
    assert message["provider"] == "tatango" and message["event_id"] == "slow-1"


def test_redrive_moves_every_message_back_with_body_and_attributes(cli: Cli, local: Local) -> None:
    local.send(INVALID, UNKNOWN_LIST)
    assert cli("local", "drain").exit_code == 0
    before = {m["Body"]: m["MessageAttributes"] for m in local.peek(local.state.dead_letter_queue_url)}
    assert len(before) == 2

    result = cli("dlq", "redrive", "--yes")

    assert result.exit_code == 0, result.output
    assert "Moved 2 message(s)" in result.stdout
    assert local.depth(local.state.dead_letter_queue_url) == 0
    moved = {m["Body"]: m["MessageAttributes"] for m in local.messages(local.state.queue_url)}
    assert moved.keys() == before.keys()
    for body, attributes in moved.items():
        assert {k: v["StringValue"] for k, v in attributes.items()} == {
            k: v["StringValue"] for k, v in before[body].items()
        }


def test_redrive_asks_first_and_a_no_moves_nothing(cli: Cli, local: Local) -> None:
    local.sqs.send_message(QueueUrl=local.state.dead_letter_queue_url, MessageBody=json.dumps(INVALID))
    result = cli("dlq", "redrive", input="n\n")
    assert result.exit_code == 1
    assert "Move about 1 message(s)" in result.output
    assert local.depth(local.state.dead_letter_queue_url) == 1
    assert local.depth(local.state.queue_url) == 0

    accepted = cli("dlq", "redrive", input="y\n")
    assert accepted.exit_code == 0
    assert local.depth(local.state.queue_url) == 1


def test_an_empty_dlq(cli: Cli, local: Local) -> None:
    assert "is empty" in cli("dlq", "list").stdout
    assert cli.json("dlq", "list")["messages"] == []
    result = cli("dlq", "redrive")
    assert result.exit_code == 0 and "nothing to redrive" in result.stdout


def _sqs() -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1"
    ).client("sqs")


def test_on_aws_redrive_starts_a_message_move_task_and_can_wait_for_it() -> None:
    sqs = _sqs()
    source, destination = (
        "arn:aws:sqs:us-east-1:123456789012:r-dlq",
        "arn:aws:sqs:us-east-1:123456789012:r-queue",
    )
    with Stubber(sqs) as stub:
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "task-1"},
            {"SourceArn": source, "DestinationArn": destination},
        )
        running = {
            "TaskHandle": "task-1",
            "Status": "RUNNING",
            "SourceArn": source,
            "ApproximateNumberOfMessagesMoved": 1,
            "ApproximateNumberOfMessagesToMove": 3,
        }
        done = {**running, "Status": "COMPLETED", "ApproximateNumberOfMessagesMoved": 3}
        stub.add_response(
            "list_message_move_tasks", {"Results": [running]}, {"SourceArn": source, "MaxResults": 10}
        )
        stub.add_response(
            "list_message_move_tasks", {"Results": [done]}, {"SourceArn": source, "MaxResults": 10}
        )
        progress: list[tuple[int, int | None]] = []
        waits: list[float] = []

        handle = start_move_task(sqs, source, destination)
        task = wait_for_move_task(
            sqs,
            source,
            handle,
            on_progress=lambda moved, total: progress.append((moved, total)),
            sleep=waits.append,
        )

        stub.assert_no_pending_responses()
    assert handle == "task-1"
    assert task["Status"] == "COMPLETED"
    assert progress == [(1, 3), (3, 3)]
    assert len(waits) == 1


def test_a_failed_target_of_a_fan_out_is_named_with_its_account(cli: Cli, local: Local) -> None:
    """What the relay dead-letters when one target fails: the event's body, plus the target."""
    body = {"scope": "everywhere", "phone_number": "+12065550100", "event_id": "fan-9"}
    _dead_letter(
        local,
        body,
        target="tatango-b#4245",
        target_id=target_id("tatango-b#4245"),
        account="tatango-b",
        provider="tatango",
    )

    [message] = cli.json("dlq", "list")["messages"]

    assert (message["target"], message["account"], message["event_id"]) == (
        "tatango-b#4245",
        "tatango-b",
        "fan-9",
    )
    table = cli("dlq", "list").stdout
    assert "tatango-b#4245 · fan-9" in table and "list_not_found" in table


def test_a_failed_target_shows_its_ledger_status(cli: Cli, local: Local) -> None:
    body = {"provider": "tatango", "account": "tatango-b", "phone_number": "+12065550100", "list_id": 4245}
    body["event_id"] = "one-9"
    _dead_letter(
        local,
        body,
        target="tatango-b#4245",
        target_id=target_id("tatango-b#4245"),
        account="tatango-b",
        provider="tatango",
    )
    put_items(
        local.state.client("dynamodb"),
        local.state.table_name,
        [
            target_row(
                "+12065550100", "one-9", "tatango-b", "tatango", 4245, "rejected", error_code="list_not_found"
            )
        ],
    )

    [message] = cli.json("dlq", "list")["messages"]

    assert message["target"] == "tatango-b#4245" and message["ledger_status"] == "rejected"


def _dead_letter(local: Local, body: dict[str, Any], **attributes: str) -> None:
    strings = {
        "error_code": "list_not_found",
        "error_message": "tatango has no list 4245",
        "source_message_id": "m-1",
        "source_receive_count": "1",
        "event_id": str(body["event_id"]),
        **attributes,
    }
    local.sqs.send_message(
        QueueUrl=local.state.dead_letter_queue_url,
        MessageBody=json.dumps(body),
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in strings.items()},
    )
