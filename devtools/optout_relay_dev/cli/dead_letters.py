"""Reading and moving dead-letter queue messages.

Messages the function dead-lettered itself carry ``error_code`` and ``error_message``
attributes, and ``target`` (``<account>#<list>``) and ``account`` when one target of an
event failed (the event's other targets went on); messages the redrive policy moved
carry none (they exhausted their receives): their last error is looked up in the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from optout_relay.domain.model import InboundMessage, target_id
from optout_relay.errors import InvalidEvent
from optout_relay.providers.registry import CONTRACTS

from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.event_reading import ReadEvent, read_event
from optout_relay_dev.cli.ledger_view import get_items
from optout_relay_dev.cli.sender import Outgoing, send_messages

REDRIVE_POLICY_REASON = "exhausted retries (redrive policy)"
PEEK_VISIBILITY_SECONDS = 30
NO_CODE = "-"


@dataclass
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str]  # message attributes (string values)
    message_attributes: dict[str, Any]  # as SQS returned them, for moving the message
    sent_at: datetime | None
    receive_count: int
    provider: str | None = None
    event_id: str | None = None
    phone: str | None = None  # E.164, when the body is a valid event
    target: str | None = None  # <account>#<list>, masked: the one target of the event that failed
    target_id: str | None = None  # that target's id (``domain.model.target_id``), to match it
    account: str | None = None
    ledger_key: str | None = None  # the sort key of that target's ledger row, when known
    scope: str | None = None  # everywhere / provider for a fan-out event
    error_code: str | None = None
    reason: str = REDRIVE_POLICY_REASON
    source_message_id: str = ""
    ledger_status: str | None = None

    @property
    def by_redrive_policy(self) -> bool:
        return "error_code" not in self.attributes

    def age_seconds(self, now: datetime | None = None) -> float | None:
        if self.sent_at is None:
            return None
        return max(0.0, ((now or datetime.now(UTC)) - self.sent_at).total_seconds())

    def to_json(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "source_message_id": self.source_message_id,
            "provider": self.provider,
            "event_id": self.event_id,
            "target": self.target,
            "account": self.account,
            "scope": self.scope,
            "error_code": self.error_code,
            "reason": self.reason,
            "by_redrive_policy": self.by_redrive_policy,
            "ledger_status": self.ledger_status,
            "receive_count": self.receive_count,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "age_seconds": self.age_seconds(),
            "body": self.body,
        }


@dataclass
class Peek:
    letters: list[DeadLetter] = field(default_factory=list)
    truncated: bool = False


def format_age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _string_attributes(message: dict[str, Any]) -> dict[str, str]:
    return {
        name: str(value["StringValue"])
        for name, value in message.get("MessageAttributes", {}).items()
        if "StringValue" in value
    }


def _sent_at(message: dict[str, Any]) -> datetime | None:
    raw = message.get("Attributes", {}).get("SentTimestamp")
    return datetime.fromtimestamp(int(raw) / 1000, UTC) if raw and str(raw).isdigit() else None


def _dead_letter(message: dict[str, Any], default_region: str) -> DeadLetter:
    attributes = _string_attributes(message)
    letter = DeadLetter(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message.get("Body", ""),
        attributes=attributes,
        message_attributes=dict(message.get("MessageAttributes", {})),
        sent_at=_sent_at(message),
        receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", "0")),
        provider=attributes.get("provider"),
        event_id=attributes.get("event_id"),
        target=attributes.get("target"),
        target_id=attributes.get("target_id"),
        account=attributes.get("account"),
        error_code=attributes.get("error_code"),
        source_message_id=attributes.get("source_message_id", message["MessageId"]),
    )
    if attributes.get("error_message"):
        letter.reason = attributes["error_message"]
    # The event's own fields (the redrive policy moved the original message, same id).
    inbound = InboundMessage(message_id=letter.source_message_id, body=letter.body, receive_count=1)
    try:
        event = read_event(inbound, default_region)
    except InvalidEvent:
        return letter
    letter.provider = letter.provider or event.provider
    letter.event_id = letter.event_id or event.event_id
    letter.phone = event.phone.e164
    letter.scope = event.scope.kind.value if event.fan_out else None
    letter.ledger_key = _ledger_key(letter, event)
    return letter


def _ledger_key(letter: DeadLetter, event: ReadEvent) -> str | None:
    """The failed target's row: named by the message, else (one list, a message the redrive
    policy moved) the row of the provider's default account, the only one known without
    the targets document (a list held by another account shows no ledger detail)."""
    if event.provider is None or event.list_ref is None:
        return None  # a fan-out's target: its name (masked in the attribute) needs the document
    names = {
        CONTRACTS[event.provider].target_name(account, event.list_ref)
        for account in (letter.account, event.scope.account, event.provider)
        if account
    }
    if letter.target_id is not None:
        names = {name for name in names if target_id(name) == letter.target_id}
    return event.ledger_key(sorted(names)[0]) if len(names) == 1 else None


def peek(
    sqs: Any,
    queue_url: str,
    *,
    limit: int = 1000,
    wait_seconds: int = 0,
    default_region: str = "US",
) -> Peek:
    """Read up to ``limit`` messages without consuming them: each is hidden while the
    queue is read (so every message is seen once), then made visible again."""
    seen: dict[str, dict[str, Any]] = {}
    truncated = False
    try:
        while True:
            if len(seen) >= limit:
                truncated = True
                break
            messages = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, limit - len(seen)),
                VisibilityTimeout=PEEK_VISIBILITY_SECONDS,
                WaitTimeSeconds=wait_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                seen.setdefault(message["MessageId"], message)
    finally:
        release(sqs, queue_url, [m["ReceiptHandle"] for m in seen.values()])
    letters = [_dead_letter(message, default_region) for message in seen.values()]
    letters.sort(key=lambda letter: letter.sent_at or datetime.min.replace(tzinfo=UTC))
    return Peek(letters, truncated)


def release(sqs: Any, queue_url: str, receipt_handles: list[str]) -> None:
    for start in range(0, len(receipt_handles), 10):
        chunk = receipt_handles[start : start + 10]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for i, handle in enumerate(chunk)
            ],
        )


def explain_from_ledger(dynamodb: Any, table_name: str, letters: Iterable[DeadLetter]) -> None:
    """Adds each message's ledger status and, for messages the redrive policy moved (no
    error attributes), the last error the ledger recorded."""
    keyed = [letter for letter in letters if letter.phone is not None and letter.ledger_key is not None]
    items = get_items(dynamodb, table_name, ((str(letter.phone), str(letter.ledger_key)) for letter in keyed))
    for letter in keyed:
        item = items.get((str(letter.phone), str(letter.ledger_key)))
        if item is None:
            continue
        letter.ledger_status = item.get("status")
        if letter.by_redrive_policy and item.get("error_code"):
            letter.error_code = letter.error_code or str(item["error_code"])
            last = item.get("error_message") or item["error_code"]
            letter.reason = f"{REDRIVE_POLICY_REASON}; last error: {last}"


def queue_depth(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


# ------------------------------------------------------------------ redrive
def start_move_task(sqs: Any, source_arn: str, destination_arn: str) -> str:
    """AWS: SQS moves the messages itself (``StartMessageMoveTask``); returns the task handle."""
    response = sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)
    return str(response["TaskHandle"])


def wait_for_move_task(
    sqs: Any,
    source_arn: str,
    task_handle: str,
    *,
    on_progress: Callable[[int, int | None], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 2.0,
) -> dict[str, Any]:
    """Polls ``ListMessageMoveTasks`` until the task is no longer running; returns it."""
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=10).get("Results", [])
        task = next((t for t in tasks if t.get("TaskHandle") == task_handle), tasks[0] if tasks else {})
        if on_progress:
            on_progress(
                int(task.get("ApproximateNumberOfMessagesMoved", 0)),
                task.get("ApproximateNumberOfMessagesToMove"),
            )
        if task.get("Status") not in ("RUNNING", "CANCELLING"):
            return dict(task)
        sleep(poll_seconds)


def move_messages(
    sqs: Any,
    source_url: str,
    destination_url: str,
    *,
    on_progress: Callable[[int], None] | None = None,
    limit: int | None = None,
) -> int:
    """The emulation's message-move task: receive, send (body and message attributes as
    they were) and delete, until the source is empty. Returns the number moved."""
    moved = 0
    while limit is None or moved < limit:
        messages = sqs.receive_message(
            QueueUrl=source_url,
            MaxNumberOfMessages=10 if limit is None else min(10, limit - moved),
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        outgoing = [
            Outgoing(
                body=m["Body"],
                attributes={
                    name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
                    for name, value in m.get("MessageAttributes", {}).items()
                },
                group_id=m.get("Attributes", {}).get("MessageGroupId"),
                deduplication_id=m["MessageId"],
            )
            for m in messages
        ]
        report = send_messages(sqs, destination_url, outgoing)
        sent = [messages[i] for i in sorted(report.message_ids)]
        if sent:
            sqs.delete_message_batch(
                QueueUrl=source_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(sent)],
            )
        unsent = [messages[f.index]["ReceiptHandle"] for f in report.failures]
        if unsent:
            release(sqs, source_url, unsent)
            raise CliError(
                f"moved {moved + len(sent)}, but {len(unsent)} message(s) could not be sent back: "
                f"{report.failures[0].message}"
            )
        moved += len(sent)
        if on_progress:
            on_progress(len(sent))
    return moved
