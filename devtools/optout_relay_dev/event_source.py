"""Plays the Lambda SQS event source mapping against a real or emulated queue:
receive a batch, invoke the handler with a Lambda-shaped event, delete what
succeeded, leave the reported failures for redelivery (the queue's redrive policy
then moves exhausted ones to the DLQ)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from optout_relay_dev.lambda_context import LocalLambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message as Lambda hands it to a function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class QueueNotDrained(RuntimeError):
    """Messages were still in the queue when the drain's time (``seconds``) was up."""

    def __init__(self, left: int, seconds: float) -> None:
        super().__init__(f"{left} message(s) still in the queue after {seconds:.0f} s")
        self.left = left
        self.seconds = seconds


@dataclass
class BatchResult:
    received: int
    failed_ids: list[str]
    response: dict[str, Any]


@dataclass
class EventSourceMapping:
    sqs: Any
    queue_url: str
    handler: Handler
    batch_size: int = 10
    function_timeout: float = 60.0
    # Seconds before a failed record is visible again. The real mapping waits for the
    # queue's visibility timeout; locally that is compressed so a run takes seconds.
    redelivery_delay: int | None = 0
    # When set, each receive uses this visibility timeout instead of the queue's: the
    # queue's timeout, compressed. With ``redelivery_delay=None`` a failed record then
    # comes back after these seconds, unless the handler itself changed its visibility
    # (a deferral for a long Retry-After), exactly as on AWS.
    visibility_timeout: int | None = None
    queue_arn: str = field(init=False, default="")
    region: str = field(init=False, default="")

    def __post_init__(self) -> None:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]
        self.region = self.queue_arn.split(":")[3]

    def poll_once(self, wait_seconds: int = 0) -> BatchResult:
        request: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": self.batch_size,
            "AttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
            "WaitTimeSeconds": wait_seconds,
        }
        if self.visibility_timeout is not None:
            request["VisibilityTimeout"] = self.visibility_timeout
        messages = self.sqs.receive_message(**request).get("Messages", [])
        if not messages:
            return BatchResult(0, [], {})
        event = {"Records": [lambda_record(m, self.queue_arn, self.region) for m in messages]}
        response = self.handler(event, LocalLambdaContext(timeout_seconds=self.function_timeout))
        failed = [item["itemIdentifier"] for item in response.get("batchItemFailures", [])]
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        if self.redelivery_delay is not None:
            for message in messages:
                if message["MessageId"] in failed:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=self.redelivery_delay,
                    )
        return BatchResult(len(messages), failed, response)

    def in_flight(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def drain(
        self,
        max_batches: int = 10_000,
        on_batch: Callable[[BatchResult], None] | None = None,
        *,
        max_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> int:
        """Poll until the queue holds nothing; returns the number of batches handled.
        ``max_seconds``: give up after that long (``QueueNotDrained``), since a message
        may keep coming back for as long as its target keeps failing."""
        started = clock()
        batches, wait = 0, 0
        while batches < max_batches:
            if max_seconds is not None and clock() - started >= max_seconds:
                left = self.in_flight()
                if left == 0:
                    return batches
                raise QueueNotDrained(left, max_seconds)
            result = self.poll_once(wait_seconds=wait)
            if result.received:
                batches, wait = batches + 1, 0
                if on_batch:
                    on_batch(result)
            elif self.in_flight() == 0:
                return batches
            else:  # only invisible (deferred) messages left: long-poll instead of spinning
                wait = 1
        raise RuntimeError(f"queue not drained after {max_batches} batches")
