"""Drives the real handler with a Lambda SQS event built here, and collects what became of
each record: batch item failure, dead letter (with its attributes), ledger item, provider call.

moto accepts SendMessage requests that SQS refuses (control characters in an attribute,
an oversized message), so the relay's SQS client is made as strict as SQS first.
"""

from __future__ import annotations

import functools
import io
import itertools
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optout_relay.handler as handler_module
import phonenumbers
from optout_relay.aws.clients import client
from optout_relay_dev.lambda_context import LocalLambdaContext

from tests.integration.conftest import TATANGO_LIST, TRACKLY_LIST, RelayWorld

from .strict_sqs import make_sqs_strict

SETTLED = ("unsubscribed", "not_subscribed")
# Python's default, and Lambda's. Hypothesis raises the limit while it runs a test (room
# for itself), which would let a body nested 1,000 levels deep parse here as it cannot there.
LAMBDA_RECURSION_LIMIT = 1_000
# No digits: nothing the harness puts in a log may look like a digit run from a body.
REQUEST_ID = "property-test-request"
AREA_CODES = ("206", "415", "312", "617", "303", "512", "646", "702")


@dataclass(frozen=True)
class Record:
    """One SQS message as the test means it; ``pinned_event_id`` is the ``optout_event_id``
    message attribute the relay sets on a copy it re-enqueued."""

    message_id: str
    body: str
    receive_count: int = 1
    pinned_event_id: str | None = None

    def lambda_record(self, queue_arn: str) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        if self.pinned_event_id is not None:
            attributes["optout_event_id"] = {
                "stringValue": self.pinned_event_id,
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            }
        return {
            "messageId": self.message_id,
            "receiptHandle": f"receipt-{self.message_id}",
            "body": self.body,
            "attributes": {
                "ApproximateReceiveCount": str(self.receive_count),
                "SentTimestamp": "1",
                "SenderId": "PRODUCER",
                "ApproximateFirstReceiveTimestamp": "1",
            },
            "messageAttributes": attributes,
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": "us-east-1",
        }


@dataclass(frozen=True)
class ProviderCall:
    provider: str
    phone: str  # E.164


@dataclass
class BatchRun:
    records: list[Record]
    response: Any
    raised: BaseException | None
    dead_letters: dict[str, list[dict[str, str]]]  # by source_message_id
    ledger: list[dict[str, Any]]  # every item after the run (the table starts empty)
    provider_calls: list[ProviderCall]
    simulator_calls: int
    logs: str

    @property
    def failed_ids(self) -> set[str]:
        if not isinstance(self.response, Mapping):
            return set()
        return {item["itemIdentifier"] for item in self.response.get("batchItemFailures", [])}

    def settled_item(self, message_id: str) -> dict[str, Any] | None:
        """The ledger item this record settled (unsubscribed or not_subscribed), if any."""
        for item in self.ledger:
            if item.get("message_id") == message_id and item.get("status") in SETTLED:
                return item
        return None

    def dead_letter_attributes(self) -> str:
        """Every attribute the function wrote on a dead letter, but the source message id."""
        return "\n".join(
            value
            for letters in self.dead_letters.values()
            for letter in letters
            for name, value in letter.items()
            if name not in ("body", "source_message_id")
        )

    def dead_letter(self, message_id: str) -> dict[str, str] | None:
        """The function's dead letter for this record: one that carries an ``error_code``."""
        letters = [letter for letter in self.dead_letters.get(message_id, []) if letter.get("error_code")]
        return letters[0] if letters else None


class RecordingAdapter:
    """A provider adapter that notes which number each call was for, then makes the call."""

    def __init__(self, inner: Any, calls: list[ProviderCall]) -> None:
        self._inner = inner
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def unsubscribe(self, phone: Any, list_ref: Any, credentials: Any) -> Any:
        self._calls.append(ProviderCall(self._inner.name, phone.e164))
        return self._inner.unsubscribe(phone, list_ref, credentials)


class WrappedClients:
    """The relay's per-account clients, each wrapped (``domain.ports.AccountClients``)."""

    def __init__(self, inner: Any, wrap: Any) -> None:
        self._inner, self._wrap = inner, wrap

    def client_for(self, account: Any) -> Any:
        return self._wrap(self._inner.client_for(account))


class Harness:
    def __init__(self, world: RelayWorld, log_stream: io.StringIO) -> None:
        self.world = world
        self.log_stream = log_stream
        self.calls: list[ProviderCall] = []
        self._ids = itertools.count()
        self._numbers = itertools.count()

    def __repr__(self) -> str:  # Hypothesis prints it with every failing example
        return "Harness(world)"

    @functools.cached_property
    def sqs(self) -> Any:
        return self.world.sqs  # a new client at each access of the world's property

    @functools.cached_property
    def dynamodb(self) -> Any:
        return self.world.dynamodb

    @classmethod
    def around(cls, world: RelayWorld, log_stream: io.StringIO) -> Harness:
        harness = cls(world, log_stream)
        harness.install()
        return harness

    def install(self) -> None:
        """(Again after ``world.rewire``): record provider calls, make SQS strict."""
        relay = handler_module.relay
        relay.caller.clients = WrappedClients(relay.caller.clients, lambda a: RecordingAdapter(a, self.calls))
        make_sqs_strict(client("sqs"))

    @property
    def max_receive_count(self) -> int:
        return int(handler_module.relay.max_receive_count)

    def message_id(self) -> str:
        # Never a run of seven digits: message ids are logged, and must not look like a leak.
        return f"msg-{next(self._ids):05d}"

    def new_phone(self) -> str:
        """A valid US number no other record of this test has used (E.164)."""
        while True:
            n = next(self._numbers)
            rest = n // len(AREA_CODES)
            number = f"+1{AREA_CODES[n % len(AREA_CODES)]}{300 + rest // 10_000 % 600}{rest % 10_000:04d}"
            if phonenumbers.is_valid_number(phonenumbers.parse(number)):
                return number

    def subscribe(self, provider: str, phone: str) -> None:
        if provider == "trackly":
            self.world.trackly.subscribe(TRACKLY_LIST, phone)
        else:
            self.world.tatango.subscribe(TATANGO_LIST, phone)

    def is_subscribed(self, provider: str, phone: str) -> bool:
        if provider == "trackly":
            return self.world.trackly.is_subscribed(TRACKLY_LIST, phone)
        return self.world.tatango.is_subscribed(TATANGO_LIST, phone)

    def run(self, records: list[Record]) -> BatchRun:
        """One invocation of the real handler; the state it reads is reset first."""
        self.log_stream.seek(0)
        self.log_stream.truncate()
        self.calls.clear()
        self.world.trackly.clear_calls()
        self.world.tatango.clear_calls()
        event = {"Records": [record.lambda_record(self.queue_arn) for record in records]}
        response: Any = None
        raised: BaseException | None = None
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(LAMBDA_RECURSION_LIMIT)
        try:
            response = handler_module.lambda_handler(
                event, LocalLambdaContext(timeout_seconds=60, aws_request_id=REQUEST_ID)
            )
        except Exception as error:  # the property under test: this must not happen
            raised = error
        finally:
            sys.setrecursionlimit(limit)
        return BatchRun(
            records=records,
            response=response,
            raised=raised,
            dead_letters=self.drain_dead_letters(),
            ledger=self.take_ledger(),
            provider_calls=list(self.calls),
            simulator_calls=len(self.world.trackly.calls) + len(self.world.tatango.calls),
            logs=self.log_stream.getvalue(),
        )

    @property
    def queue_arn(self) -> str:
        return f"arn:aws:sqs:us-east-1:123456789012:{self.world.stack.queue_url.rsplit('/', 1)[-1]}"

    def drain_dead_letters(self) -> dict[str, list[dict[str, str]]]:
        sqs, url = self.sqs, self.world.stack.dead_letter_queue_url
        letters: dict[str, list[dict[str, str]]] = {}
        received = 10
        while received == 10:  # moto answers with every visible message, up to 10
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=30
            ).get("Messages", [])
            received = len(messages)
            for message in messages:
                attributes = {
                    k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()
                }
                letters.setdefault(attributes.get("source_message_id", ""), []).append(
                    {"body": message["Body"], **attributes}
                )
            if messages:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )
        return letters

    def take_ledger(self) -> list[dict[str, Any]]:
        """Every ledger item, deleted as read: moto answers a Query or Scan by reading the
        whole table, so the next run starts from an empty one and stays fast."""
        table = self.world.stack.table_name
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        raw = [item for page in pages for item in page["Items"]]
        for start in range(0, len(raw), 25):
            requests = [
                {"DeleteRequest": {"Key": {"phone_number": item["phone_number"], "target": item["target"]}}}
                for item in raw[start : start + 25]
            ]
            self.dynamodb.batch_write_item(RequestItems={table: requests})
        return [{k: next(iter(v.values())) for k, v in item.items()} for item in raw]
