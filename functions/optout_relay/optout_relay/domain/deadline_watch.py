"""The deadline watch's figures: how many opt-outs are open, due soon or overdue, now.

- **Open**: not every target final (``OptOutRecord.complete``).
- **Overdue**: open, and ``now`` is past its deadline (``deadline.within_deadline``).
- **Due soon**: open, not overdue, and its deadline's day is at most
  ``DUE_SOON_BUSINESS_DAYS`` business days away (0: the deadline is today). The two
  counts never overlap, so each alarm says one thing.
- **Most urgent**: business days left on the open opt-out with the earliest deadline.
  ``deadline.business_days_left`` is 0 on the weekend right after a Friday deadline,
  when the opt-out is already overdue: an overdue one shows -1 at least, so a negative
  figure always means overdue. With nothing open there is no most urgent one, and the
  metric is not published (the dashboard shows a gap, not a made-up number).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from optout_relay.domain.deadline import business_days_left, within_deadline
from optout_relay.domain.opt_out_record import OptOutRecord

DUE_SOON_BUSINESS_DAYS = 2
# From the UTC day of receipt to the UTC day of the deadline is 19 days at most (ten
# business days over Christmas and New Year, and the deadline ends at 04:59 UTC the
# next day; a test checks every receipt day for years). A shorter look back would miss
# opt-outs about to be due; three weeks keeps overdue ones in view a little longer.
MIN_LOOKBACK_DAYS = 21

OPEN_METRIC = "OptOutsOpen"
DUE_SOON_METRIC = "OptOutsDueSoon"
OVERDUE_METRIC = "OptOutsOverdue"
MOST_URGENT_METRIC = "MostUrgentBusinessDaysLeft"
# Every metric the watcher publishes (template invariants read this).
WATCH_METRICS = (OPEN_METRIC, DUE_SOON_METRIC, OVERDUE_METRIC, MOST_URGENT_METRIC)


@dataclass(frozen=True)
class AtRisk:
    """An open opt-out that is due soon or overdue."""

    record: OptOutRecord
    business_days_left: int
    overdue: bool


@dataclass(frozen=True)
class WatchFigures:
    open: int
    due_soon: int
    overdue: int
    most_urgent_business_days_left: int | None
    # Most urgent first.
    at_risk: tuple[AtRisk, ...] = ()

    def metrics(self) -> dict[str, int]:
        """Metric name -> value, as published (no most-urgent figure when nothing is open)."""
        values = {OPEN_METRIC: self.open, DUE_SOON_METRIC: self.due_soon, OVERDUE_METRIC: self.overdue}
        if self.most_urgent_business_days_left is not None:
            values[MOST_URGENT_METRIC] = self.most_urgent_business_days_left
        return values


def days_to_read(now: datetime, lookback_days: int) -> list[date]:
    """The UTC receipt days to read, oldest first: today and the ``lookback_days`` before it."""
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=back) for back in range(lookback_days, -1, -1)]


def days_left(record: OptOutRecord, now: datetime) -> int:
    """Business days left before the record's deadline; negative (at least -1) once overdue."""
    left = business_days_left(now, record.deadline_at)
    return left if within_deadline(now, record.deadline_at) else min(left, -1)


def assess(records: Iterable[OptOutRecord], now: datetime) -> WatchFigures:
    """The figures for these opt-outs (complete ones count for nothing) at ``now``."""
    open_records = sorted((r for r in records if not r.complete), key=lambda r: r.deadline_at)
    at_risk = []
    most_urgent: int | None = None
    for record in open_records:
        left = days_left(record, now)
        most_urgent = left if most_urgent is None else min(most_urgent, left)
        if left <= DUE_SOON_BUSINESS_DAYS:
            at_risk.append(AtRisk(record, left, overdue=not within_deadline(now, record.deadline_at)))
    overdue = sum(1 for entry in at_risk if entry.overdue)
    return WatchFigures(
        open=len(open_records),
        due_soon=len(at_risk) - overdue,
        overdue=overdue,
        most_urgent_business_days_left=most_urgent,
        at_risk=tuple(at_risk),
    )
