"""The opt-out deadline: ten US business days after receipt, in US Eastern time by default."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optout_relay.domain.deadline import (
    EASTERN,
    business_days_between,
    business_days_left,
    deadline_at,
    received_at,
    within_deadline,
)
from optout_relay.domain.timestamps import iso_utc, parse_utc

PACIFIC = ZoneInfo("America/Los_Angeles")
US_ZONES = [
    EASTERN,
    ZoneInfo("America/Chicago"),
    ZoneInfo("America/Denver"),
    ZoneInfo("America/Phoenix"),
    PACIFIC,
    ZoneInfo("America/Anchorage"),
    ZoneInfo("Pacific/Honolulu"),
    ZoneInfo("America/Puerto_Rico"),
]


def deadline_of(received: str, zone: ZoneInfo = EASTERN) -> str:
    return iso_utc(deadline_at(parse_utc(received), zone))


# --- The oracle: the library's public API, day by day, not the module under test. ---


def library_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in holidays.country_holidays("US", years=day.year)


def library_business_days_after(first: date, last: date) -> int:
    return sum(library_business_day(first + timedelta(days=n)) for n in range(1, (last - first).days + 1))


# --- Hand-checked deadlines (dates read off a calendar; times are Eastern end of day in UTC). ---


@pytest.mark.parametrize(
    ("received", "deadline", "why"),
    [
        # Fri 16 Oct: Mon 19 .. Fri 23 (5), Mon 26 .. Fri 30 (10); EDT, so 03:59:59.999Z the next day.
        ("2026-10-16T15:00:00Z", "2026-10-31T03:59:59.999Z", "two weekends, no holiday"),
        # Wed 14 Oct: Thu 15, Fri 16, then Mon 19 .. Fri 23, Mon 26 .. Wed 28.
        ("2026-10-14T15:00:00Z", "2026-10-29T03:59:59.999Z", "received midweek"),
        # Thu 19 Nov: Fri 20, Mon 23 .. Wed 25 (4), Thanksgiving Thu 26 skipped, Fri 27 (5) .. Fri 4 Dec (10).
        ("2026-11-19T15:00:00Z", "2026-12-05T04:59:59.999Z", "Thanksgiving"),
        # Fri 12 Jun: Mon 15 .. Thu 18 (4), Juneteenth Fri 19 skipped, Mon 22 .. Fri 26 (9), Mon 29 (10).
        ("2026-06-12T15:00:00Z", "2026-06-30T03:59:59.999Z", "Juneteenth"),
        # 4 July 2026 is a Saturday, observed Friday 3 July: Mon 29 Jun .. Thu 2 Jul (4), Mon 6 .. Mon 13.
        ("2026-06-26T15:00:00Z", "2026-07-14T03:59:59.999Z", "Independence Day observed on the Friday"),
        # Thu 24 Dec: Christmas Fri 25 skipped, Mon 28 .. Thu 31 (4), New Year Fri 1 Jan skipped,
        # Mon 4 .. Fri 8 Jan 2027 (9), Mon 11 (10); MLK Day is the 18th, after. EST: 04:59:59.999Z.
        ("2026-12-24T15:00:00Z", "2027-01-12T04:59:59.999Z", "year end over Christmas and New Year"),
        # Christmas 2027 (Sat) observed Fri 24 Dec; New Year 2028 (Sat) observed Fri 31 Dec 2027:
        # Mon 20 .. Thu 23 (4), Mon 27 .. Thu 30 (8), Mon 3 Jan 2028 (9), Tue 4 (10).
        ("2027-12-17T15:00:00Z", "2028-01-05T04:59:59.999Z", "year end, both holidays observed on Fridays"),
    ],
)
def test_deadline_on_hand_checked_dates(received: str, deadline: str, why: str) -> None:
    assert deadline_of(received) == deadline, why


def test_received_on_a_weekend_counts_from_the_next_business_day() -> None:
    friday = deadline_of("2026-10-16T15:00:00Z")
    assert deadline_of("2026-10-17T15:00:00Z") == friday  # Saturday
    assert deadline_of("2026-10-18T23:00:00Z") == friday  # Sunday 19:00 EDT
    assert deadline_of("2026-10-19T15:00:00Z") != friday  # Monday is a business day of its own


def test_received_on_a_holiday_counts_from_the_next_business_day() -> None:
    # Thanksgiving Thu 26 Nov: Fri 27 (1), Mon 30 .. Fri 4 Dec (6), Mon 7 .. Thu 10 (10).
    assert deadline_of("2026-11-26T17:00:00Z") == "2026-12-11T04:59:59.999Z"
    assert deadline_of("2026-11-26T17:00:00Z") == deadline_of("2026-11-25T17:00:00Z")


def test_late_evening_receipt_belongs_to_the_eastern_day_not_the_utc_day() -> None:
    # 03:30Z on Fri 16 Oct is 23:30 EDT on Thursday 15: the count starts on Friday 16.
    assert deadline_of("2026-10-16T03:30:00Z") == "2026-10-30T03:59:59.999Z"
    assert deadline_of("2026-10-16T04:30:00Z") == "2026-10-31T03:59:59.999Z"  # 00:30 EDT Friday


def test_time_zone_is_a_parameter() -> None:
    # 05:30Z on Fri 16 Oct is Friday 01:30 in Eastern but Thursday 22:30 in Pacific time.
    assert deadline_of("2026-10-16T05:30:00Z") == "2026-10-31T03:59:59.999Z"
    assert deadline_of("2026-10-16T05:30:00Z", PACIFIC) == "2026-10-30T06:59:59.999Z"


@pytest.mark.parametrize(
    ("received", "deadline", "why"),
    [
        # Received in EDT (UTC-4), due after DST ends on 1 Nov: Mon 9 Nov at 23:59:59.999 EST (UTC-5).
        ("2026-10-26T14:00:00Z", "2026-11-10T04:59:59.999Z", "count crosses the end of DST"),
        # Received in EST, due after DST starts on 8 Mar: Mon 16 Mar at 23:59:59.999 EDT.
        ("2026-03-02T14:00:00Z", "2026-03-17T03:59:59.999Z", "count crosses the start of DST"),
        # 01:30 happens twice on Sun 1 Nov; both count from Mon 2 Nov: Mon 2 .. Fri 6 (5), Mon 9,
        # Tue 10 (7), Veterans Day Wed 11 skipped, Thu 12, Fri 13 (9), Mon 16 (10).
        ("2026-11-01T05:30:00Z", "2026-11-17T04:59:59.999Z", "first 01:30 (EDT) of the repeated hour"),
        ("2026-11-01T06:30:00Z", "2026-11-17T04:59:59.999Z", "second 01:30 (EST) of the repeated hour"),
    ],
)
def test_deadline_across_dst_transitions(received: str, deadline: str, why: str) -> None:
    assert deadline_of(received) == deadline, why
    assert deadline_at(parse_utc(received)).astimezone(EASTERN).time() == time(23, 59, 59, 999_000)


# --- received_at ---


def test_received_at_is_occurred_at_when_given() -> None:
    moment = received_at("2026-11-20T09:30:00+01:00", "2026-11-20T08:31:02.250Z")
    assert moment == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    assert iso_utc(moment) == "2026-11-20T08:30:00.000Z"


def test_received_at_is_first_seen_without_occurred_at() -> None:
    first_seen = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert received_at(None, first_seen) == first_seen
    assert received_at(None, "2026-11-20T10:00:00.000Z") == first_seen


def test_an_occurred_at_after_first_seen_cannot_push_the_deadline_later() -> None:
    assert received_at("2026-11-21T10:00:00Z", "2026-11-20T10:00:00Z") == datetime(
        2026, 11, 20, 10, tzinfo=UTC
    )


def test_occurred_at_without_offset_is_utc() -> None:
    assert received_at("2026-11-20T10:00:00", "2026-11-21T00:00:00Z") == datetime(
        2026, 11, 20, 10, tzinfo=UTC
    )


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline_at(datetime(2026, 11, 20, 10))


# --- Elapsed and remaining business days ---


def test_business_days_taken() -> None:
    friday = parse_utc("2026-10-16T15:00:00Z")
    assert business_days_between(friday, parse_utc("2026-10-16T23:00:00Z")) == 0
    assert business_days_between(friday, parse_utc("2026-10-18T15:00:00Z")) == 0  # Sunday
    assert business_days_between(friday, parse_utc("2026-10-19T15:00:00Z")) == 1  # Monday
    assert business_days_between(friday, deadline_at(friday)) == 10


def test_business_days_left_counts_down_to_zero_on_the_deadline_day_then_goes_negative() -> None:
    deadline = parse_utc("2026-10-31T03:59:59.999Z")  # end of Fri 30 Oct, Eastern
    assert business_days_left(parse_utc("2026-10-28T15:00:00Z"), deadline) == 2  # Wednesday
    assert business_days_left(parse_utc("2026-10-30T15:00:00Z"), deadline) == 0
    saturday = parse_utc("2026-10-31T15:00:00Z")
    assert business_days_left(saturday, deadline) == 0 and not within_deadline(saturday, deadline)
    assert business_days_left(parse_utc("2026-11-03T15:00:00Z"), deadline) == -2  # Tuesday


def test_within_deadline_up_to_the_last_millisecond_of_the_day() -> None:
    deadline = parse_utc("2026-10-31T03:59:59.999Z")
    assert within_deadline(parse_utc("2026-10-31T03:59:59.999Z"), deadline)
    assert within_deadline(parse_utc("2026-10-31T03:59:59.999900Z"), deadline)  # below the ledger's ms
    assert not within_deadline(parse_utc("2026-10-31T04:00:00Z"), deadline)


# --- Properties, against the library's own calendar ---

instants = st.datetimes(
    min_value=datetime(1995, 1, 1),
    max_value=datetime(2095, 12, 31),
    timezones=st.just(UTC),
)


@settings(max_examples=300, deadline=None)
@given(received=instants, zone=st.sampled_from(US_ZONES))
def test_deadline_is_the_end_of_the_tenth_business_day_after_the_receipt_day(
    received: datetime, zone: ZoneInfo
) -> None:
    deadline = deadline_at(received, zone)
    local = deadline.astimezone(zone)
    received_day = received.astimezone(zone).date()

    assert deadline.tzinfo is UTC and deadline > received
    assert local.time() == time(23, 59, 59, 999_000)
    assert library_business_day(local.date())
    assert library_business_days_after(received_day, local.date()) == 10


@settings(max_examples=200, deadline=None)
@given(received=instants, taken=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)))
def test_within_deadline_is_on_or_before_the_deadline_day_and_never_more_than_ten_business_days(
    received: datetime, taken: timedelta
) -> None:
    completed = received + taken
    deadline = deadline_at(received)
    within = within_deadline(completed, deadline)
    days_taken = business_days_between(received, completed)

    assert within == (completed.astimezone(EASTERN).date() <= deadline.astimezone(EASTERN).date())
    assert days_taken <= 10 if within else days_taken >= 10  # 10 too on a weekend right after the deadline
    assert business_days_between(completed, received) == -days_taken


def test_completed_on_the_weekend_after_the_deadline_took_ten_business_days_and_is_late() -> None:
    received = parse_utc("2026-10-16T15:00:00Z")
    saturday_after = parse_utc("2026-10-31T15:00:00Z")
    assert business_days_between(received, saturday_after) == 10
    assert not within_deadline(saturday_after, deadline_at(received))
