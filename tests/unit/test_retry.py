"""Backoff, jitter, Retry-After and the invocation's remaining time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from optout_relay.domain.retry import SAFETY_MARGIN_SECONDS, RetryPolicy
from optout_relay.errors import TransientError
from optout_relay.providers.http import parse_retry_after


def error(retry_after: float | None = None, retry_now: bool = True) -> TransientError:
    return TransientError(
        "provider_unavailable", "503", http_status=503, retry_after=retry_after, retry_now=retry_now
    )


def policy(**kwargs: float) -> RetryPolicy:
    kwargs.setdefault("call_timeout", 0.0)
    return RetryPolicy(rng=random.Random(7), **kwargs)  # type: ignore[arg-type]


def test_exponential_backoff_with_full_jitter_stays_within_bounds() -> None:
    retry = policy(max_attempts=10, max_delay=4, base_delay=0.5)
    for attempt in range(1, 9):
        delays = [retry.decide(attempt, error(), 900).delay for _ in range(50)]
        ceiling = min(4, 0.5 * 2 ** (attempt - 1))
        assert all(d is not None and 0 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_gives_up_after_max_attempts() -> None:
    retry = policy(max_attempts=3)
    assert retry.decide(2, error(), 900).delay is not None
    decision = retry.decide(3, error(), 900)
    assert decision.delay is None and decision.defer_for is None


def test_retry_after_is_honoured_when_within_the_cap() -> None:
    assert policy(max_delay=30).decide(1, error(retry_after=7), 900).delay == 7


def test_retry_after_beyond_the_cap_defers_instead_of_sleeping() -> None:
    decision = policy(max_delay=30).decide(1, error(retry_after=120), 900)
    assert decision.delay is None and decision.defer_for == 120


def test_never_sleeps_past_the_invocation() -> None:
    decision = policy(max_delay=30).decide(
        1, error(retry_after=10), remaining_seconds=10 + SAFETY_MARGIN_SECONDS - 0.1
    )
    assert decision.delay is None


def test_no_immediate_retry_when_it_cannot_help() -> None:
    assert policy().decide(1, error(retry_now=False), 900).delay is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("120", 120.0),
        (" 5 ", 5.0),
        (None, None),
        ("soon", None),
        ("", None),
        ("-3", None),
    ],
)
def test_parse_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(90)
    past = format_datetime(now - timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(past, now=now) == 0


def test_the_next_call_must_fit_in_the_invocation_too() -> None:
    retry = RetryPolicy(max_attempts=5, max_delay=30, call_timeout=10, rng=random.Random(1))
    assert retry.decide(1, error(retry_after=1), remaining_seconds=12).delay is None
    assert retry.decide(1, error(retry_after=1), remaining_seconds=14).delay == 1
