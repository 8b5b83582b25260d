"""A seeded ledger for `optout-relay report`, judged as of NOW (Tuesday 2026-11-24, 15:00 UTC).

Deadlines (end of the 10th US business day, Eastern): received Mon 2026-11-02 -> Tue 11-17
(Veterans Day, Wed 11-11, skipped); Thu 11-05 -> Fri 11-20; Fri 11-20 -> Mon 12-07
(Thanksgiving, Thu 11-26, skipped).
"""

from __future__ import annotations

from typing import Any

from .ledger_seed import SeedOptOut, SeedTarget

NOW = "2026-11-24T15:00:00.000Z"
FIRST, LAST = "2026-11-02", "2026-11-20"
PERIOD_DAYS = 19
TRACKLY = "trackly#+18005550100"
TATANGO = "tatango#4242"
ACME = "acme-east#+18005550199"  # a second Trackly account
ATTACK = '=HYPERLINK("http://x","y")'  # a provider's request id is not ours to trust

TRACKLY_EVIDENCE = {
    "http_status": 200,
    "provider_date": "2026-11-03T10:00:00Z",
    "request_id": "tr-1",
    "unsubscribed": True,
}
TATANGO_EVIDENCE = {
    "http_status": 200,
    "provider_date": "2026-11-04T10:00:00Z",
    "request_id": ATTACK,
    "opted_out_at": "2026-11-04T09:59:58Z",
}


def _done(name: str, provider: str, settled_at: str, status: str = "unsubscribed", **more: Any) -> SeedTarget:
    return SeedTarget(name, provider, status, settled_at=settled_at, **more)


IN_PERIOD = (
    # Mon 11-02: a fan-out complete in 2 business days (one target retried twice first).
    SeedOptOut(
        "+12065550101",
        "e-fanout-within",
        "2026-11-02T14:00:00.000Z",
        (
            _done(TRACKLY, "trackly", "2026-11-03T10:00:00.000Z", retries=2, evidence=TRACKLY_EVIDENCE),
            _done(TATANGO, "tatango", "2026-11-04T10:00:00.000Z", evidence=TATANGO_EVIDENCE),
            _done(ACME, "trackly", "2026-11-02T15:00:00.000Z", status="not_subscribed"),
        ),
        scope="everywhere",
    ),
    SeedOptOut(
        "+12065550102",
        "e-single-within",
        "2026-11-02T14:00:00.000Z",
        (_done(TRACKLY, "trackly", "2026-11-02T14:00:05.000Z"),),
    ),
    # A fan-out with one target still retrying, 5 business days past its deadline.
    SeedOptOut(
        "+12065550103",
        "e-fanout-overdue",
        "2026-11-02T16:30:00.000Z",
        (
            _done(TRACKLY, "trackly", "2026-11-02T16:30:01.000Z"),
            SeedTarget(TATANGO, "tatango", "retrying", attempts=4, error_code="server_error"),
        ),
        scope="everywhere",
    ),
    # Thu 11-05 (deadline Fri 11-20): completed Saturday 11-21, 10 business days, late.
    SeedOptOut(
        "+12065550104",
        "e-fanout-late-weekend",
        "2026-11-05T16:00:00.000Z",
        (
            _done(TRACKLY, "trackly", "2026-11-06T10:00:00.000Z"),
            _done(ACME, "trackly", "2026-11-21T15:00:00.000Z"),
        ),
        scope="provider",
    ),
    # A single target that failed (final) after its deadline: complete late, not applied.
    SeedOptOut(
        "+12065550105",
        "e-single-late-failed",
        "2026-11-05T16:00:00.000Z",
        (
            _done(
                TATANGO,
                "tatango",
                "2026-11-23T15:00:00.000Z",
                "failed",
                attempts=5,
                error_code="server_error",
            ),
        ),
    ),
    # Fri 11-20 (deadline Mon 12-07): open, 8 business days left; one target not even tried yet.
    SeedOptOut(
        "+12065550106",
        "e-fanout-open",
        "2026-11-20T13:00:00.000Z",
        (
            _done(TRACKLY, "trackly", "2026-11-20T14:00:00.000Z"),
            SeedTarget(TATANGO, "tatango", "retrying", attempts=1, error_code="rate_limited"),
            SeedTarget(ACME, "trackly", "pending"),
        ),
        scope="everywhere",
    ),
    SeedOptOut(
        "+12065550107",
        "e-single-open",
        "2026-11-20T13:00:00.000Z",
        (SeedTarget(TRACKLY, "trackly", "retrying", attempts=2, error_code="server_error"),),
    ),
    # The same number as the first opt-out, again, at the very end of the period (UTC).
    SeedOptOut(
        "+12065550101",
        "e-single-within-2",
        "2026-11-20T23:59:59.999Z",
        (_done(TATANGO, "tatango", "2026-11-21T00:00:01.000Z", status="not_subscribed"),),
    ),
)
OUTSIDE = (
    SeedOptOut(
        "+12065550101",
        "e-day-before",
        "2026-11-01T23:59:59.999Z",
        (_done(TRACKLY, "trackly", "2026-11-02T01:00:00.000Z"),),
    ),
    # 19:00 in New York on Friday 11-20, but the UTC day is 11-21: after the period.
    SeedOptOut(
        "+12065550101",
        "e-day-after",
        "2026-11-21T00:00:00.000Z",
        (SeedTarget(TRACKLY, "trackly", "retrying", attempts=1),),
    ),
)
EXPECTED_TOTALS = {
    "received": 8,
    "complete_within_deadline": 3,
    "complete_late": 2,
    "open": 2,
    "open_fewest_business_days_left": 8,
    "overdue": 1,
    "complete_with_a_target_rejected_or_failed": 1,
}
EXPECTED_VERDICTS = {
    "e-fanout-within": ("complete_within_deadline", 2, None),
    "e-single-within": ("complete_within_deadline", 0, None),
    "e-fanout-overdue": ("overdue", None, -5),
    "e-fanout-late-weekend": ("complete_late", 10, None),
    "e-single-late-failed": ("complete_late", 11, None),
    "e-fanout-open": ("open", None, 8),
    "e-single-open": ("open", None, 8),
    "e-single-within-2": ("complete_within_deadline", 0, None),
}
