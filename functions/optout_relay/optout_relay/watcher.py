"""The deadline watch, run once: read the receipt days, group them, assess, tell.

``watch.py`` runs it every hour (the Lambda handler); ``optout-relay watch`` runs it
from a terminal against the local emulation or a deployed stack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from optout_relay.aws.ledger_items import PARTITION_KEY, SORT_KEY, TARGET_KEY
from optout_relay.aws.opt_out_index import ORDER_KEY, group_opt_outs
from optout_relay.domain.deadline_watch import (
    DUE_SOON_BUSINESS_DAYS,
    AtRisk,
    WatchFigures,
    assess,
    days_to_read,
)
from optout_relay.domain.timestamps import iso_utc
from optout_relay.masking import mask_numbers, mask_phone

# What the watch needs of each item: the index returns no more (less to read and decode).
WATCHED_ATTRIBUTES = (
    PARTITION_KEY,
    SORT_KEY,
    TARGET_KEY,
    "event_id",
    "kind",
    "target_names",
    "status",
    "error_code",
    "attempts",
    "received_at",
    "deadline_at",
    ORDER_KEY,
)

_DUE_SOON_MESSAGE = f"Opt-out due within {DUE_SOON_BUSINESS_DAYS} business days"


class ReceivedDays(Protocol):
    def items_received_on(self, day: date, attributes: Sequence[str] = ()) -> list[dict[str, Any]]: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class DeadlineWatcher:
    def __init__(
        self, index: ReceivedDays, lookback_days: int, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.index = index
        self.lookback_days = lookback_days
        self.clock = clock

    def run(self) -> WatchFigures:
        """One Query per receipt day of the look back, then the figures as of now."""
        now = self.clock()
        items = [
            item
            for day in days_to_read(now, self.lookback_days)
            for item in self.index.items_received_on(day, WATCHED_ATTRIBUTES)
        ]
        return assess(group_opt_outs(items), now)


def at_risk_fields(entry: AtRisk) -> dict[str, Any]:
    """What a log line says of an opt-out at risk, masked as every log line is."""
    record = entry.record
    return {
        "event_id": mask_numbers(record.event_id),
        "phone": mask_phone(record.phone_number),
        "business_days_left": entry.business_days_left,
        "overdue": entry.overdue,
        "received_at": iso_utc(record.received_at),
        "deadline_at": iso_utc(record.deadline_at),
        "unsettled_targets": [
            {
                "target": mask_numbers(target.name),
                "status": target.status or "not_recorded",
                "last_error_code": mask_numbers(target.error_code) if target.error_code else None,
            }
            for target in record.unsettled
        ],
    }


def publish(figures: WatchFigures, metrics: Metrics, logger: Logger) -> None:
    """The figures as EMF metrics, and one log line per opt-out at risk."""
    for name, value in figures.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for entry in figures.at_risk:
        message = "Opt-out overdue" if entry.overdue else _DUE_SOON_MESSAGE
        logger.warning(message, extra=at_risk_fields(entry))
    logger.info("Deadline watch", extra=figures.metrics())
