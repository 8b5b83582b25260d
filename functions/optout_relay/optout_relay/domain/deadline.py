"""When an opt-out must be honoured by, and how many business days it took.

The rule: the FCC's revocation-of-consent order (FCC 24-24, 47 CFR 64.1200(a)(10), in
force since 2025-04-11) requires an opt-out to be honoured "within a reasonable time
not to exceed ten business days" of its receipt. It defines neither "business day"
nor a time zone, so this module decides, as follows:

- **Business day**: Monday to Friday, except US federal holidays on the day the
  library reports them observed (see ``federal_holidays``).
- **Counting**: the receipt day does not count (as in federal rules for computing
  time periods, which start the day after the triggering event). Day 1 is the first
  business day after the receipt day, so an opt-out received on a Saturday, a Sunday
  or a holiday starts its count on the next business day, as one received on the
  business day before would. The deadline is the last millisecond of day 10
  (``23:59:59.999`` local time), so ``within_deadline`` is "on or before that day".
- **Time zone**: a parameter; the default is US Eastern (``America/New_York``), which
  decides both the calendar date of the receipt and when day 10 ends. Why Eastern:
  "US business day" is a federal notion, the holidays are those of the federal
  government, and the FCC sits in Washington; an auditor can check any deadline
  with one calendar. And among the zones of the 48 contiguous states, Eastern ends
  each day first, so a deadline at Eastern end of day is never later than the same
  day ending in Central, Mountain or Pacific time. No single zone is the strictest
  for every receipt, though: an opt-out received between 21:00 and midnight Pacific
  time is already on the next day in Eastern time, so a Pacific reading would start
  its count a day earlier; with Alaska and Hawaii that window grows to the Hawaiian
  evening. A sender whose recipients, or whose own business days, are elsewhere
  passes that zone.

All instants in and out are timezone-aware; results are UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from optout_relay.domain.federal_holidays import is_federal_holiday
from optout_relay.domain.timestamps import parse_utc

BUSINESS_DAYS_TO_HONOUR = 10
EASTERN = ZoneInfo("America/New_York")
# The ledger keeps milliseconds, so the last representable instant of a day is .999.
_RESOLUTION = timedelta(milliseconds=1)
_END_OF_DAY = time(23, 59, 59, 999_000)
_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


def received_at(occurred_at: str | None, first_seen_at: datetime | str) -> datetime:
    """When the opt-out was received: its ``occurred_at`` when given, else when the relay first saw it.

    An ``occurred_at`` later than the relay's first sight of the event can only be the
    sender's clock running ahead; it would move the deadline later, so first sight wins.
    """
    first_seen = parse_utc(first_seen_at) if isinstance(first_seen_at, str) else _utc(first_seen_at)
    if occurred_at is None:
        return first_seen
    return min(parse_utc(occurred_at), first_seen)


def deadline_at(received: datetime, zone: tzinfo = EASTERN) -> datetime:
    """The end (23:59:59.999 in ``zone``) of the tenth business day after the day of ``received``."""
    day = _local_date(received, zone)
    counted = 0
    while counted < BUSINESS_DAYS_TO_HONOUR:
        day += _ONE_DAY
        if is_business_day(day):
            counted += 1
    return datetime.combine(day, _END_OF_DAY, tzinfo=zone).astimezone(UTC)


def within_deadline(moment: datetime, deadline: datetime) -> bool:
    """``moment`` is no later than the deadline's day (to the ledger's millisecond resolution)."""
    return _utc(moment) < _utc(deadline) + _RESOLUTION


def business_days_between(start: datetime, end: datetime, zone: tzinfo = EASTERN) -> int:
    """Business days after ``start``'s day up to and including ``end``'s day; negative if ``end`` is earlier.

    An opt-out received and completed on the same day took 0; received on a Friday
    and completed the Monday after, 1. Completed within its deadline, it took at most
    10; but one completed on the weekend right after the deadline also took 10 and is
    late: the verdict is ``within_deadline``, never this count.
    """
    first, last = _local_date(start, zone), _local_date(end, zone)
    if last < first:
        return -_business_days_after(last, up_to=first)
    return _business_days_after(first, up_to=last)


def business_days_left(now: datetime, deadline: datetime, zone: tzinfo = EASTERN) -> int:
    """Business days after today up to and including the deadline's day: 0 on that day itself.

    Negative once business days have passed since the deadline's day. Whether an
    opt-out is overdue is ``not within_deadline(now, deadline)``: on a weekend right
    after the deadline it is overdue with 0 days left.
    """
    return business_days_between(now, deadline, zone)


def is_business_day(day: date) -> bool:
    return day.weekday() < _SATURDAY and not is_federal_holiday(day)


def _business_days_after(first: date, up_to: date) -> int:
    return sum(is_business_day(first + timedelta(days=n)) for n in range(1, (up_to - first).days + 1))


def _local_date(moment: datetime, zone: tzinfo) -> date:
    return _utc(moment).astimezone(zone).date()


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a timezone-aware instant is needed, got {moment.isoformat()}")
    return moment.astimezone(UTC)
