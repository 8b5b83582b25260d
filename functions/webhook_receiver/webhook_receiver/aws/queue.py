"""Publishing one opt-out on the relay's source queue."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from webhook_receiver.errors import PublishFailed


class QueuePublisher:
    def __init__(self, queue_url: str, sqs: Any) -> None:
        self.queue_url = queue_url
        self.sqs = sqs

    def publish(self, body: str) -> str:
        """The message id once SQS has stored it; ``PublishFailed`` otherwise."""
        try:
            response = self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", "ClientError"))
            raise PublishFailed(f"SQS SendMessage failed ({code})") from None
        except BotoCoreError as error:
            raise PublishFailed(f"SQS SendMessage failed ({type(error).__name__})") from None
        return str(response.get("MessageId", ""))
