"""The queue a record came from: used to push a record's next delivery back."""

from __future__ import annotations

import math
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optout_relay.aws.clients import LazyClient
from optout_relay.aws.errors import aws_call
from optout_relay.domain.model import InboundMessage
from optout_relay.errors import TransientError
from optout_relay.observability import logger

MAX_VISIBILITY_TIMEOUT = 43_200  # SQS limit: 12 hours
MAX_DELAY_SECONDS = 900  # SQS limit: 15 minutes
# Message attributes of a copy the relay re-enqueued: the event's id, and the provider's
# answer when the ledger could not take it (see ``domain.confirmation``).
PINNED_EVENT_ID = "optout_event_id"
PINNED_RECEIVED_AT = "optout_received_at"
CARRIED_CONFIRMATION = "optout_confirmation"
# On a dead letter of one target's permanent failure (and so on its redriven copy): the
# id of the target (``domain.model.target_id``) a redrive tries again.
REDRIVE_TARGET = "target_id"
# On a fresh copy of a record whose target had already failed (postponed, carrying an
# answer, or replacing a dead letter SQS refused): the receives used so far, which still
# count towards the retry limit.
PRIOR_RECEIVES = "optout_prior_receives"


class SqsSourceQueue:
    sqs = LazyClient("sqs")

    def __init__(self, sqs: Any = None) -> None:
        self._sqs = sqs
        self._urls: dict[str, str] = {}

    def defer(self, message: InboundMessage, seconds: float) -> None:
        """Best effort: if this fails the record still returns after the queue's visibility timeout."""
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self._url_for(message.event_source_arn),
                ReceiptHandle=message.receipt_handle,
                VisibilityTimeout=min(MAX_VISIBILITY_TIMEOUT, math.ceil(seconds)),
            )
        except (ClientError, BotoCoreError, TransientError) as error:
            logger.warning("Could not defer the record", extra={"error": error.__class__.__name__})

    def requeue(
        self,
        message: InboundMessage,
        delay_seconds: int,
        event_id: str,
        *,
        confirmation: str | None = None,
        prior_receives: int = 0,
    ) -> None:
        """Not best effort: if the copy cannot be sent, the original must stay on the queue."""
        attributes = {PINNED_EVENT_ID: event_id}
        if prior_receives > 0:
            attributes[PRIOR_RECEIVES] = str(prior_receives)
        if message.first_seen_at:  # the copy is the same opt-out: received when the original was
            attributes[PINNED_RECEIVED_AT] = message.first_seen_at
        if confirmation is not None:
            attributes[CARRIED_CONFIRMATION] = confirmation
        with aws_call("SQS SendMessage (re-enqueue)"):
            self.sqs.send_message(
                QueueUrl=self._url_for(message.event_source_arn),
                MessageBody=message.body,
                DelaySeconds=min(MAX_DELAY_SECONDS, delay_seconds),
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
                },
            )

    def _url_for(self, queue_arn: str) -> str:
        if queue_arn not in self._urls:
            parts = queue_arn.split(":")
            if len(parts) != 6 or parts[2] != "sqs":
                raise TransientError("aws_error", "the record's event source is not an SQS queue ARN")
            self._urls[queue_arn] = self.sqs.get_queue_url(
                QueueName=parts[5], QueueOwnerAWSAccountId=parts[4]
            )["QueueUrl"]
        return self._urls[queue_arn]
