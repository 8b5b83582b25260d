"""The deadline watch's figures (domain/deadline_watch.py) and how index items group into
opt-outs (aws/opt_out_index.group_opt_outs), without AWS."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from optout_relay.aws.opt_out_index import group_opt_outs
from optout_relay.domain.deadline import EASTERN, deadline_at
from optout_relay.domain.deadline_watch import (
    MIN_LOOKBACK_DAYS,
    MOST_URGENT_METRIC,
    assess,
    days_left,
    days_to_read,
)
from optout_relay.domain.opt_out_record import OptOutRecord, TargetRecord
from optout_relay.errors import ConfigurationError
from optout_relay.watch_settings import WatchSettings

from tests.ledger_seed import SeedTarget, opt_out_items

# Friday 2026-11-20, 10:00 in New York. Veterans Day (Wed 2026-11-11) is a holiday.
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def eastern(day: date, hour: int = 23, minute: int = 59) -> datetime:
    return datetime.combine(day, time(hour, minute, 59, 999_000), tzinfo=EASTERN).astimezone(UTC)


def record(deadline: datetime, *targets: tuple[str, str | None], event_id: str = "e-1") -> OptOutRecord:
    final = ("unsubscribed", "not_subscribed", "rejected", "failed")
    return OptOutRecord(
        phone_number="+12065550100",
        event_id=event_id,
        received_at=deadline - timedelta(days=14),
        deadline_at=deadline,
        targets=tuple(TargetRecord(name, status, status in final) for name, status in targets),
    )


OPEN = ("tatango-main#4242", "retrying")
DONE = ("trackly-main#+18005551234", "unsubscribed")


@pytest.mark.parametrize(
    ("deadline_day", "left", "due_soon", "overdue"),
    [
        (date(2026, 11, 20), 0, 1, 0),  # due today
        (date(2026, 11, 23), 1, 1, 0),  # Monday: one business day after today
        (date(2026, 11, 24), 2, 1, 0),  # two business days: still due soon
        (date(2026, 11, 25), 3, 0, 0),  # three: not yet
        (date(2026, 11, 19), -1, 0, 1),  # yesterday
        (date(2026, 11, 10), -7, 0, 1),  # the Wednesday holiday in between does not count
    ],
)
def test_due_soon_and_overdue_by_business_days_left(
    deadline_day: date, left: int, due_soon: int, overdue: int
) -> None:
    figures = assess([record(eastern(deadline_day), OPEN, DONE)], NOW)
    assert (figures.open, figures.due_soon, figures.overdue) == (1, due_soon, overdue)
    assert figures.most_urgent_business_days_left == left
    assert [entry.business_days_left for entry in figures.at_risk] == ([left] if due_soon or overdue else [])


def test_on_the_weekend_after_a_friday_deadline_it_is_overdue_with_minus_one() -> None:
    saturday = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    friday_deadline = record(eastern(date(2026, 11, 20)), OPEN)
    figures = assess([friday_deadline], saturday)
    assert (figures.due_soon, figures.overdue, figures.most_urgent_business_days_left) == (0, 1, -1)
    assert days_left(friday_deadline, datetime(2026, 11, 20, 23, 0, tzinfo=UTC)) == 0  # 18:00 in NY


def test_complete_opt_outs_count_for_nothing_and_with_none_open_no_most_urgent_figure() -> None:
    complete = record(eastern(date(2026, 11, 10)), DONE, ("tatango-main#4242", "rejected"))
    figures = assess([complete], NOW)
    assert (figures.open, figures.due_soon, figures.overdue, figures.at_risk) == (0, 0, 0, ())
    assert figures.metrics() == {"OptOutsOpen": 0, "OptOutsDueSoon": 0, "OptOutsOverdue": 0}
    assert MOST_URGENT_METRIC not in figures.metrics()


def test_at_risk_most_urgent_first_and_the_most_urgent_figure_is_the_lowest() -> None:
    records = [
        record(eastern(date(2026, 12, 4)), OPEN, event_id="later"),
        record(eastern(date(2026, 11, 23)), OPEN, event_id="due-monday"),
        record(eastern(date(2026, 11, 17)), OPEN, event_id="overdue"),
    ]
    figures = assess(records, NOW)
    assert [entry.record.event_id for entry in figures.at_risk] == ["overdue", "due-monday"]
    assert figures.metrics() == {
        "OptOutsOpen": 3,
        "OptOutsDueSoon": 1,
        "OptOutsOverdue": 1,
        "MostUrgentBusinessDaysLeft": -3,
    }


def test_days_to_read_are_utc_days_oldest_first() -> None:
    just_after_midnight = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)  # still the 19th in New York
    days = days_to_read(just_after_midnight, 21)
    assert len(days) == 22
    assert (days[0], days[-1]) == (date(2026, 10, 30), date(2026, 11, 20))


def test_the_shortest_look_back_still_sees_every_opt_out_until_its_deadline() -> None:
    # Receipts at the first and the last minute of every New York day for ten years:
    # the UTC day of the deadline is never more than MIN_LOOKBACK_DAYS after the UTC day
    # of receipt, so an opt-out is read by every run up to its deadline.
    day, longest = date(2025, 1, 1), 0
    while day < date(2035, 1, 1):
        for received in (eastern(day, 0, 0), eastern(day)):
            span = (deadline_at(received).date() - received.date()).days
            longest = max(longest, span)
        day += timedelta(days=1)
    assert longest == 19
    assert longest <= MIN_LOOKBACK_DAYS


# ------------------------------------------------------------------ grouping index items

RECEIVED = datetime(2026, 11, 6, 14, 0, tzinfo=UTC)


def test_a_fan_out_is_open_while_one_named_target_is_not_final() -> None:
    items = opt_out_items(
        "+12065550100",
        "e-fan",
        RECEIVED,
        [
            SeedTarget("trackly-main#+18005551234", "unsubscribed", retried=True, error_code="http_503"),
            SeedTarget("tatango-main#4242", "retrying", error_code="secret_malformed"),
            SeedTarget("tatango-b#77", None),
        ],
        fan_out=True,
    )
    [fan_out] = group_opt_outs(items)
    assert (fan_out.phone_number, fan_out.event_id, fan_out.received_at) == (
        "+12065550100",
        "e-fan",
        RECEIVED,
    )
    assert fan_out.deadline_at == deadline_at(RECEIVED)
    assert fan_out.summary is not None and not fan_out.complete
    assert [(t.name, t.status, t.final, t.error_code) for t in fan_out.targets] == [
        ("trackly-main#+18005551234", "unsubscribed", True, None),
        ("tatango-main#4242", "retrying", False, "secret_malformed"),
        ("tatango-b#77", None, False, None),
    ]
    assert [t.name for t in fan_out.unsettled] == ["tatango-main#4242", "tatango-b#77"]
    assert fan_out.completed_at is None


def test_a_single_target_opt_out_is_complete_when_its_target_is_final() -> None:
    open_items = opt_out_items(
        "+12065550100", "e-1", RECEIVED, [SeedTarget("trackly-main#+18005551234", "retrying")], fan_out=False
    )
    done_items = opt_out_items(
        "+12065550199",
        "e-1",
        RECEIVED,
        [SeedTarget("tatango-main#4242", "failed", error_code="http_500", retried=True)],
        fan_out=False,
    )
    still_open, done = group_opt_outs(open_items + done_items)
    assert (still_open.phone_number, still_open.complete, still_open.summary) == ("+12065550100", False, None)
    assert [t.name for t in still_open.targets] == ["trackly-main#+18005551234"]
    assert (done.complete, done.completed_at) == (True, "2026-11-06T14:05:00.000Z")
    assert done.targets[0].status == "failed"


def test_a_complete_fan_out_takes_its_completion_from_the_summary() -> None:
    items = opt_out_items(
        "+12065550100",
        "e-done",
        RECEIVED,
        [
            SeedTarget("trackly-main#+18005551234", "not_subscribed"),
            SeedTarget("tatango-main#4242", "rejected"),
        ],
        fan_out=True,
        settled_after=timedelta(days=2),
    )
    [done] = group_opt_outs(items)
    assert done.complete and done.completed_at == "2026-11-08T14:00:00.000Z"


# ------------------------------------------------------------------ settings


def test_watch_settings_default_and_bounds() -> None:
    assert WatchSettings.from_env({"RESULTS_TABLE_NAME": "t"}).lookback_days == 60
    assert (
        WatchSettings.from_env({"RESULTS_TABLE_NAME": "t", "WATCH_LOOKBACK_DAYS": "21"}).lookback_days == 21
    )
    with pytest.raises(ConfigurationError, match="WATCH_LOOKBACK_DAYS") as caught:
        WatchSettings.from_env({"WATCH_LOOKBACK_DAYS": "7"})
    assert "RESULTS_TABLE_NAME is required" in str(caught.value)
