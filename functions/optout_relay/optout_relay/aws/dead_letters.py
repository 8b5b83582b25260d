"""Dead-letter routing: the original body goes to ``DEAD_LETTER_QUEUE_URL`` with the reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optout_relay.aws.clients import LazyClient
from optout_relay.aws.errors import aws_call
from optout_relay.domain.model import InboundMessage

_MAX_ATTRIBUTE_LENGTH = 1024


class SqsDeadLetters:
    sqs = LazyClient("sqs")

    def __init__(self, queue_url: str, sqs: Any = None) -> None:
        self.queue_url = queue_url
        self._sqs = sqs

    def send(
        self, message: InboundMessage, error_code: str, error_message: str, extra: Mapping[str, str]
    ) -> None:
        attributes = {
            "error_code": error_code,
            "error_message": error_message,
            "source_message_id": message.message_id,
            "source_receive_count": str(message.receive_count),
            **extra,
        }
        request: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MessageBody": message.body,
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value[:_MAX_ATTRIBUTE_LENGTH]}
                for name, value in attributes.items()
                if value
            },
        }
        if self.queue_url.endswith(".fifo"):
            request["MessageGroupId"] = message.message_group_id or "dead-letters"
            request["MessageDeduplicationId"] = message.message_id
        with aws_call("SQS SendMessage to the dead-letter queue"):
            self.sqs.send_message(**request)
