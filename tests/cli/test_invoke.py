"""`optout-relay invoke EVENT.json`: the real handler on a sample event."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from optout_relay_dev.cli import invoke as invoke_module
from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.invoke import load_event, sqs_record
from optout_relay_dev.cli.target import Target

from .conftest import TATANGO_LIST, TRACKLY_LIST, Cli, Local


def sqs_event(path: Path, *bodies: dict[str, Any] | str) -> Path:
    records = [sqs_record(body if isinstance(body, str) else json.dumps(body)) for body in bodies]
    path.write_text(json.dumps({"Records": records}))
    return path


def test_invoke_runs_the_handler_on_the_running_emulation(cli: Cli, local: Local, tmp_path: Path) -> None:
    local.subscribe(trackly=["+12065550100"])
    event = sqs_event(
        tmp_path / "event.json",
        {
            "provider": "trackly",
            "phone_number": "+12065550100",
            "list_number": TRACKLY_LIST,
            "event_id": "i-1",
        },
        {"provider": "tatango", "phone_number": "+12065550101", "list_id": TATANGO_LIST, "event_id": "i-2"},
        {"provider": "tatango", "phone_number": "12345", "list_id": TATANGO_LIST, "event_id": "i-3"},
    )

    result = cli.json("invoke", str(event))

    assert result["response"] == {"batchItemFailures": []}
    statuses = {item["event_id"]: item["status"] for item in result["ledger"]}
    assert statuses == {"i-1": "unsubscribed", "i-2": "not_subscribed"}
    [letter] = result["dead_letters"]
    assert letter["event_id"] == "i-3" and letter["error_code"] == "invalid_phone"
    # The same happened in the emulation, not only in the printout.
    assert [item["status"] for item in local.ledger("+12065550100")] == ["unsubscribed"]
    assert not local.simulator("trackly").is_subscribed(TRACKLY_LIST, "+12065550100")
    assert local.depth(local.state.dead_letter_queue_url) == 1

    again = cli("invoke", str(event))
    assert again.exit_code == 0
    assert "Batch response" in again.stdout and "unsubscribed" in again.stdout
    assert len(local.simulator("trackly").calls) == 1  # already settled: no second provider call


def test_invoke_without_a_running_emulation_starts_one(cli: Cli, tmp_path: Path) -> None:
    body = tmp_path / "optout.json"  # a bare opt-out body is accepted too
    body.write_text(json.dumps({"provider": "tatango", "phone_number": "(206) 555-0100", "list_id": 77}))

    result = cli.json("invoke", str(body))

    assert result["response"] == {"batchItemFailures": []}
    [item] = result["ledger"]
    assert item["status"] == "unsubscribed"  # the event's number starts subscribed
    assert item["phone_number"] == "+12065550100" and item["list_id"] == 77
    assert result["dead_letters"] == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not valid JSON"),
        ('{"Records": []}', "the event has no records"),
        ('{"Records": [{"body": "{}"}]}', "needs a messageId and a body"),
        ("[1, 2]", "expected a Lambda SQS event"),
    ],
)
def test_unreadable_events_are_one_line_errors(
    cli: Cli, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "event.json"
    if content is not None:
        path.write_text(content)
    result = cli("invoke", str(path))
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output
    with pytest.raises(CliError):
        load_event(path)


class FakeLambda:
    def __init__(self, response: dict[str, Any]) -> None:
        self.response = response
        self.requests: list[dict[str, Any]] = []

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return self.response


def _deployed(client: Any) -> Target:
    return Target(
        description="stack relay in us-east-1",
        session=None,
        region="us-east-1",
        outputs={"FunctionName": "relay-fn"},
        stack_name="relay",
        _clients={"lambda": client},
    )


def test_invoking_the_deployed_function_sends_the_event() -> None:
    client = FakeLambda({"StatusCode": 200, "Payload": io.BytesIO(b'{"batchItemFailures": []}')})
    event = {"Records": [sqs_record('{"provider": "trackly"}')]}

    payload = invoke_module._invoke_deployed(_deployed(client), event)

    assert payload == {"batchItemFailures": []}
    [request] = client.requests
    assert request["FunctionName"] == "relay-fn" and json.loads(request["Payload"]) == event


def test_a_failing_deployed_function_is_a_clear_error() -> None:
    client = FakeLambda(
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": io.BytesIO(
                b'{"errorMessage": "optout-relay is misconfigured: RESULTS_TABLE_NAME is required"}'
            ),
            "LogResult": base64.b64encode(b"START RequestId: 1\nEND").decode(),
        }
    )
    with pytest.raises(CliError, match="the function failed \\(Unhandled\\): optout-relay is misconfigured"):
        invoke_module._invoke_deployed(_deployed(client), {"Records": []})
