"""``optout-relay invoke EVENT.json``: run the handler on a sample event and show what it did."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from optout_relay.domain.events import InvalidOptOut
from optout_relay.domain.model import InboundMessage, Phone
from optout_relay.errors import InvalidEvent

from optout_relay_dev.cli import console as terminal
from optout_relay_dev.cli.app_context import state_dir_of
from optout_relay_dev.cli.dead_letters import DeadLetter, explain_from_ledger, peek
from optout_relay_dev.cli.dlq import dead_letter_table
from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.event_reading import read_event
from optout_relay_dev.cli.ledger_view import ledger_table, query_phone
from optout_relay_dev.cli.runtime import local_function
from optout_relay_dev.cli.seeding import events_in_bodies, record_bodies, subscriptions_for
from optout_relay_dev.cli.target import (
    DLQ_URL,
    FUNCTION,
    TABLE,
    RegionOption,
    StackNameOption,
    Target,
    local_target,
    resolve_stack,
    running_state,
)
from optout_relay_dev.emulator import Emulator
from optout_relay_dev.lambda_context import LocalLambdaContext

LOG_FILE_NAME = "invoke-logs.jsonl"
PLACEHOLDER_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:optout-relay-queue"


def invoke(
    ctx: typer.Context,
    *,
    event_file: Annotated[
        Path,
        typer.Argument(
            help="A Lambda SQS event (as in events/), or a single opt-out body.", show_default=False
        ),
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    stack_name: StackNameOption = None,
    region: RegionOption = None,
) -> None:
    """Run the handler on a sample event and show what it did.

    Prints the batch response, the ledger items and the dead-letter messages the event
    produced. Locally by default: the handler runs in this process against the `local
    up` emulation, or against one started for this command (with the event's numbers
    subscribed at the simulators). With --stack-name the deployed function is invoked:
    it calls the real providers.
    """
    event = load_event(event_file)
    records = event["Records"]
    with contextlib.ExitStack() as stack:
        if stack_name:
            target = resolve_stack(stack_name, region, [FUNCTION, TABLE, DLQ_URL])
            response = _invoke_deployed(target, event)
            note = f"invoked {target.output(FUNCTION)} in {target.description}"
        else:
            state = running_state(state_dir_of(ctx))
            note = "ran the handler in this process against the `local up` emulation"
            if state is None:
                emulator = stack.enter_context(Emulator(prefix=f"optout-relay-invoke-{uuid.uuid4().hex[:6]}"))
                emulator.seed_subscriptions(subscriptions_for(events_in_bodies(record_bodies(event))))
                state = emulator.state
                note = (
                    "no `local up` emulation is running: started one for this command, with the event's "
                    "numbers subscribed at the simulators"
                )
            target = local_target(state)
            log_path = state_dir_of(ctx) / LOG_FILE_NAME
            with local_function(state.function_environment, log_path) as handler:
                response = handler(event, LocalLambdaContext(timeout_seconds=60))
            note += f"; handler logs in {log_path}"
        region = target.local.function_environment.get("DEFAULT_PHONE_REGION", "US") if target.local else "US"
        ledger, letters = _results(target, records, region)
    if json_output:
        terminal.print_json(
            {"response": response, "ledger": ledger, "dead_letters": [letter.to_json() for letter in letters]}
        )
        return
    out = terminal.stdout()
    out.print(f"[dim]{note}[/]")
    out.print("[bold]Batch response[/]")
    out.print_json(json.dumps(response))
    failures = len(response.get("batchItemFailures", [])) if isinstance(response, dict) else 0
    out.print(
        f"{len(records)} record(s): {len(records) - failures} handled, {failures} given back for retry."
    )
    if ledger:
        out.print(ledger_table(ledger, title="Ledger items of these records"))
    else:
        out.print("No ledger items for these records (no valid phone number and provider in them).")
    if letters:
        table = dead_letter_table(letters, "Dead-letter messages from these records")
        out.print(table)
    else:
        out.print("No dead-letter messages from these records.")


def load_event(path: Path) -> dict[str, Any]:
    """A Lambda SQS event from ``path``; a bare opt-out object becomes a one-record event."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{path}: cannot read it ({error})") from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise CliError(f"{path}: not valid JSON ({error})") from None
    if isinstance(document, dict) and isinstance(document.get("Records"), list):
        if not document["Records"]:
            raise CliError(f"{path}: the event has no records")
        if not all(isinstance(r, dict) and "messageId" in r and "body" in r for r in document["Records"]):
            raise CliError(f"{path}: every record of an SQS event needs a messageId and a body")
        return document
    if isinstance(document, dict):
        return {"Records": [sqs_record(json.dumps(document))]}
    raise CliError(f"{path}: expected a Lambda SQS event (with Records) or one opt-out object")


def sqs_record(body: str, queue_arn: str = PLACEHOLDER_QUEUE_ARN) -> dict[str, Any]:
    now = str(int(time.time() * 1000))
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "local-" + uuid.uuid4().hex,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now,
            "SenderId": "optout-relay-cli",
            "ApproximateFirstReceiveTimestamp": now,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def _invoke_deployed(target: Target, event: dict[str, Any]) -> Any:
    response = target.client("lambda").invoke(
        FunctionName=target.output(FUNCTION), Payload=json.dumps(event).encode(), LogType="Tail"
    )
    raw = response["Payload"].read()
    payload = json.loads(raw) if raw else None
    if response.get("FunctionError"):
        message = payload.get("errorMessage") if isinstance(payload, dict) else None
        tail = base64.b64decode(response.get("LogResult", "")).decode(errors="replace").strip()
        terminal.stderr().print(tail[-2000:] if tail else "")
        raise CliError(f"the function failed ({response['FunctionError']}): {message or payload}")
    return payload


def _results(
    target: Target, records: list[dict[str, Any]], region: str
) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
    """The ledger rows (every target of each record's event) and DLQ messages that came
    from these records."""
    wanted: dict[str, set[str]] = {}  # phone -> event ids
    for record in records:
        message = InboundMessage(str(record["messageId"]), str(record["body"]), 1)
        phone: Phone | None
        try:
            event = read_event(message, region)
            phone, event_id = event.phone, event.event_id
        except InvalidOptOut as error:
            phone, event_id = error.partial.phone, error.partial.event_id
        except InvalidEvent:
            continue
        if phone is not None:
            wanted.setdefault(phone.e164, set()).add(event_id)
    dynamodb = target.client("dynamodb")
    ledger = []
    for e164, event_ids in wanted.items():
        for item in query_phone(dynamodb, target.output(TABLE), e164):
            if item.get("event_id") in event_ids:
                ledger.append(item)
    ids = {str(record["messageId"]) for record in records}
    letters = [
        letter
        for letter in peek(
            target.client("sqs"), target.output(DLQ_URL), wait_seconds=0 if target.is_local else 1
        ).letters
        if letter.source_message_id in ids
    ]
    explain_from_ledger(dynamodb, target.output(TABLE), letters)
    return ledger, letters
