"""Lambda entry point: wires Powertools and hands each SQS record to the relay.

The relay decides each record's fate and returns it; ``batch.settle_record`` turns it
into what Powertools' batch processor expects. The handler never raises.
"""

from __future__ import annotations

# isort: off
from optout_relay import init_phase  # first: the collector rests until the init is over
# isort: on

import functools
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from optout_relay.aws.source_queue import (
    CARRIED_CONFIRMATION,
    PINNED_EVENT_ID,
    PINNED_RECEIVED_AT,
    PRIOR_RECEIVES,
    REDRIVE_TARGET,
)
from optout_relay.batch import ConcurrentSqsProcessor, every_record_failed, settle_record
from optout_relay.domain.batch import PreparedBatch
from optout_relay.domain.model import InboundMessage
from optout_relay.domain.timestamps import iso_utc
from optout_relay.errors import ConfigurationError
from optout_relay.observability import OutcomeMetrics, logger, metrics, traced_handler
from optout_relay.settings import Settings
from optout_relay.wiring import build_relay, create_clients

try:
    settings = Settings.from_env()
    outcome_metrics = OutcomeMetrics()
    relay = build_relay(settings, outcome_metrics)
    # The handler never raises for records: even a batch where every record failed is
    # answered with all of them as batch item failures, for SQS to redeliver.
    processor = ConcurrentSqsProcessor(workers=settings.record_workers)
    create_clients()
except ConfigurationError as error:
    logger.error(str(error))
    raise
finally:
    init_phase.finished()


def inbound_message(record: SQSRecord) -> InboundMessage:
    return InboundMessage(
        message_id=record.message_id,
        body=record.body if isinstance(record.body, str) else "",
        receive_count=_receive_count(record),
        receipt_handle=record.receipt_handle,
        event_source_arn=record.event_source_arn,
        message_group_id=_attribute(record, "MessageGroupId"),
        pinned_event_id=_string_attribute(record, PINNED_EVENT_ID),
        carried_confirmation=_string_attribute(record, CARRIED_CONFIRMATION),
        redrive_target=_string_attribute(record, REDRIVE_TARGET),
        first_seen_at=_string_attribute(record, PINNED_RECEIVED_AT) or _sent_at(record),
        prior_receives=_small_count(_string_attribute(record, PRIOR_RECEIVES)),
    )


def _attribute(record: SQSRecord, name: str) -> str | None:
    """One of SQS's own attributes of the record; a hand-built event may have none."""
    attributes = record.raw_event.get("attributes")
    value = attributes.get(name) if isinstance(attributes, dict) else None
    return value if isinstance(value, str) else None


def _sent_at(record: SQSRecord) -> str | None:
    raw = _attribute(record, "SentTimestamp")
    if not (isinstance(raw, str) and raw.isascii() and raw.isdigit()):
        return None
    return iso_utc(datetime.fromtimestamp(int(raw) / 1000, tz=UTC))


def readable_messages(records: list[Any]) -> list[InboundMessage]:
    """The batch's records as messages; one that cannot even be read is left to its own
    handling (where it fails alone), not allowed to stop the batch's preparation."""
    messages = []
    for record in records:
        try:
            messages.append(inbound_message(SQSRecord(record)))
        except Exception:  # a malformed record: record_handler meets it alone
            logger.warning("Could not read a record of the batch")
    return messages


def _receive_count(record: SQSRecord) -> int:
    return _small_count(_attribute(record, "ApproximateReceiveCount"), default=1)


def _small_count(raw: str | None, default: int = 0) -> int:
    """A count SQS or the relay wrote; anything else (a producer's junk) is the default."""
    if isinstance(raw, str) and 0 < len(raw) <= 6 and raw.isascii() and raw.isdigit():
        return int(raw)
    return default


def _string_attribute(record: SQSRecord, name: str) -> str | None:
    attribute = (record.raw_event.get("messageAttributes") or {}).get(name) or {}
    value = attribute.get("stringValue") if isinstance(attribute, dict) else None
    return value if isinstance(value, str) else None


def record_handler(
    record: SQSRecord, lambda_context: LambdaContext | None = None, batch: PreparedBatch | None = None
) -> str:
    # Records run on worker threads: their log keys are kept per thread.
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(correlation_id=record.message_id)

    def remaining_seconds() -> float:
        return lambda_context.get_remaining_time_in_millis() / 1000 if lambda_context else 60.0

    try:
        outcome = relay.handle(inbound_message(record), remaining_seconds, batch)
    finally:
        logger.thread_safe_clear_keys()
    return settle_record(outcome)


@logger.inject_lambda_context(clear_state=True)
@traced_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    records = event.get("Records") or []
    metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=len(records))
    try:
        batch = relay.prepare(readable_messages(records))
        return process_partial_response(
            event=event,
            record_handler=functools.partial(record_handler, batch=batch),
            processor=processor,
            context=context,
        )
    except Exception:  # never fail a batch: give every record back instead
        logger.exception("Could not process the batch; every record goes back to the queue")
        metrics.add_metric(name="BatchFailed", unit=MetricUnit.Count, value=1)
        return every_record_failed(records)
    finally:
        outcome_metrics.flush()
