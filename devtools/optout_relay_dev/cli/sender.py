"""Sends message bodies with SQS ``SendMessageBatch`` in tens, retrying the entries a
batch result reports as failed (bounded, with backoff)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optout_relay_dev.cli.errors import describe_aws_error

BATCH_SIZE = 10
MAX_ATTEMPTS = 4
FIRST_BACKOFF_SECONDS = 0.2


@dataclass(frozen=True)
class Outgoing:
    body: str
    # Message attributes (name -> SQS MessageAttributeValue), kept as they are.
    attributes: Mapping[str, Any] = field(default_factory=dict)
    group_id: str | None = None  # FIFO queues only
    deduplication_id: str | None = None  # FIFO queues only


@dataclass(frozen=True)
class SendFailure:
    index: int
    code: str
    message: str


@dataclass
class SendReport:
    message_ids: dict[int, str] = field(default_factory=dict)  # input index -> SQS MessageId
    failures: list[SendFailure] = field(default_factory=list)
    retried_entries: int = 0

    @property
    def sent(self) -> int:
        return len(self.message_ids)


def _entry(index: int, message: Outgoing, fifo: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": message.body}
    if message.attributes:
        entry["MessageAttributes"] = dict(message.attributes)
    if fifo:
        entry["MessageGroupId"] = message.group_id or "optout-relay"
        entry["MessageDeduplicationId"] = (
            message.deduplication_id or hashlib.sha256(message.body.encode()).hexdigest()
        )
    return entry


def send_messages(
    sqs: Any,
    queue_url: str,
    messages: Sequence[Outgoing],
    *,
    on_progress: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_attempts: int = MAX_ATTEMPTS,
) -> SendReport:
    """Send everything; entries that fail with ``SenderFault`` are not retried (the same
    request would fail again); the others are retried up to ``max_attempts`` times. A
    failed call (not an entry) stops the run: what is left is reported as not sent."""
    report = SendReport()
    fifo = queue_url.endswith(".fifo")
    for start in range(0, len(messages), BATCH_SIZE):
        pending = list(range(start, min(start + BATCH_SIZE, len(messages))))
        for attempt in range(1, max_attempts + 1):
            try:
                response = sqs.send_message_batch(
                    QueueUrl=queue_url, Entries=[_entry(i, messages[i], fifo) for i in pending]
                )
            except (BotoCoreError, ClientError) as error:
                reason = describe_aws_error(error)
                later = range(min(start + BATCH_SIZE, len(messages)), len(messages))
                report.failures.extend(SendFailure(i, "send_failed", reason) for i in [*pending, *later])
                return report
            for success in response.get("Successful", []):
                report.message_ids[int(success["Id"])] = success["MessageId"]
            if on_progress and response.get("Successful"):
                on_progress(len(response["Successful"]))
            retry: list[int] = []
            for failure in response.get("Failed", []):
                index = int(failure["Id"])
                code = str(failure.get("Code", "Unknown"))
                message = str(failure.get("Message", "")) or code
                if failure.get("SenderFault") or attempt == max_attempts:
                    report.failures.append(SendFailure(index, code, message))
                else:
                    retry.append(index)
            if not retry:
                break
            report.retried_entries += len(retry)
            sleep(FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1))
            pending = retry
    return report
