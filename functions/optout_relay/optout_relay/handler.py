"""Lambda entry point: wires Powertools and hands each SQS record to the relay."""

from __future__ import annotations

# isort: off
from optout_relay import init_phase  # first: the collector rests until the init is over
# isort: on

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from optout_relay.aws.source_queue import PINNED_EVENT_ID
from optout_relay.batch import ConcurrentSqsProcessor
from optout_relay.domain.model import InboundMessage
from optout_relay.errors import ConfigurationError, RecordDeferred, RecordNotProcessed
from optout_relay.observability import OutcomeMetrics, logger, metrics, traced_handler
from optout_relay.settings import Settings
from optout_relay.wiring import build_relay, create_clients

try:
    settings = Settings.from_env()
    outcome_metrics = OutcomeMetrics()
    relay = build_relay(settings, outcome_metrics)
    # The handler never raises for records: even a batch where every record failed is
    # answered with all of them as batch item failures, for SQS to redeliver.
    processor = ConcurrentSqsProcessor(workers=settings.record_concurrency)
    create_clients()
except ConfigurationError as error:
    logger.error(str(error))
    raise
finally:
    init_phase.finished()


def inbound_message(record: SQSRecord) -> InboundMessage:
    return InboundMessage(
        message_id=record.message_id,
        body=record.body,
        receive_count=int(record.attributes.approximate_receive_count or 1),
        receipt_handle=record.receipt_handle,
        event_source_arn=record.event_source_arn,
        message_group_id=record.attributes.message_group_id,
        pinned_event_id=_string_attribute(record, PINNED_EVENT_ID),
    )


def _string_attribute(record: SQSRecord, name: str) -> str | None:
    attribute = (record.raw_event.get("messageAttributes") or {}).get(name) or {}
    value = attribute.get("stringValue")
    return value if isinstance(value, str) else None


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> str:
    # Records run on worker threads: their log keys are kept per thread.
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(correlation_id=record.message_id)
    message = inbound_message(record)

    def remaining_seconds() -> float:
        return lambda_context.get_remaining_time_in_millis() / 1000 if lambda_context else 60.0

    try:
        return relay.handle(message, remaining_seconds).value
    except (RecordNotProcessed, RecordDeferred):
        raise
    except Exception:
        logger.exception("Unexpected error; the record goes back to the queue")
        raise
    finally:
        logger.thread_safe_clear_keys()


@logger.inject_lambda_context(clear_state=True)
@traced_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    records = event.get("Records") or []
    metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=len(records))
    relay.prefetch([inbound_message(SQSRecord(record)) for record in records])
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        outcome_metrics.flush()
