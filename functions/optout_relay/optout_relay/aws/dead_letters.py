"""Dead-letter routing: the original body goes to ``DEAD_LETTER_QUEUE_URL`` with the reason.

Attributes are made valid for SQS before sending (allowed characters, lengths, the size
of the whole message), so what a producer wrote can never make the send fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optout_relay.aws.clients import LazyClient
from optout_relay.aws.errors import aws_call
from optout_relay.domain.model import InboundMessage
from optout_relay.sqs_text import sqs_safe, truncate_utf8, utf8_size

# SQS counts the body and every attribute's name, type and value against one limit.
MAX_MESSAGE_BYTES = 256 * 1024
MAX_ATTRIBUTE_BYTES = 1024
# Kept for the attributes: a body nearer the limit than this is cut (such a body is refused
# as body_too_large anyway: the reason matters more than its last bytes).
ATTRIBUTE_ROOM = 8 * 1024
_STRING = "String"
# Kept first when the body leaves little room: the reason matters most.
_PRIORITY = ("error_code", "source_message_id", "source_receive_count", "error_message")


def dead_letter_attributes(body: str, attributes: Mapping[str, str]) -> dict[str, str]:
    """The attributes SQS will take beside ``body``: valid characters, each value at most
    ``MAX_ATTRIBUTE_BYTES``, all of them within what the message size leaves."""
    room = MAX_MESSAGE_BYTES - utf8_size(body)
    ordered = sorted(attributes.items(), key=lambda item: _rank(item[0]))
    kept: dict[str, str] = {}
    for name, value in ordered:
        if not value:
            continue
        overhead = utf8_size(name) + len(_STRING)
        text = truncate_utf8(sqs_safe(value), min(MAX_ATTRIBUTE_BYTES, room - overhead))
        if not text:
            continue
        kept[name] = text
        room -= overhead + utf8_size(text)
    return kept


def _rank(name: str) -> int:
    return _PRIORITY.index(name) if name in _PRIORITY else len(_PRIORITY)


class SqsDeadLetters:
    sqs = LazyClient("sqs")

    def __init__(self, queue_url: str, sqs: Any = None) -> None:
        self.queue_url = queue_url
        self._sqs = sqs

    def send(
        self, message: InboundMessage, error_code: str, error_message: str, extra: Mapping[str, str]
    ) -> None:
        # A body SQS delivered is valid; one built by hand (a test event) may not be.
        body = sqs_safe(message.body) or "(empty body)"
        size = utf8_size(body)
        cut = {"body_truncated_from_bytes": str(size)} if size > MAX_MESSAGE_BYTES - ATTRIBUTE_ROOM else {}
        body = truncate_utf8(body, MAX_MESSAGE_BYTES - ATTRIBUTE_ROOM)
        attributes = dead_letter_attributes(
            body,
            {
                **cut,
                "error_code": error_code,
                "error_message": error_message,
                "source_message_id": message.message_id,
                "source_receive_count": str(message.receive_count),
                **extra,
            },
        )
        request: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MessageBody": body,
            "MessageAttributes": {
                name: {"DataType": _STRING, "StringValue": value} for name, value in attributes.items()
            },
        }
        if self.queue_url.endswith(".fifo"):
            request["MessageGroupId"] = message.message_group_id or "dead-letters"
            request["MessageDeduplicationId"] = message.message_id
        with aws_call("SQS SendMessage to the dead-letter queue"):
            self.sqs.send_message(**request)
