"""Issue 11, the write side: every item of an opt-out says when it was received and when
it is due, and is found by the day it was received; a complete opt-out says whether it
was honoured in time. Written with the outcome, no extra request."""

from __future__ import annotations

from datetime import UTC, datetime

from optout_relay.domain.deadline import deadline_at
from optout_relay.domain.relay import timeline_of
from optout_relay.domain.timestamps import iso_utc

from tests.integration.conftest import TRACKLY_LIST, RelayWorld

PHONE = "+14155559876"


def test_a_single_target_opt_out_carries_its_deadline_and_completion(world: RelayWorld) -> None:
    world.trackly.subscribe(TRACKLY_LIST, PHONE)
    occurred = "2026-11-20T15:00:00Z"  # a Friday; Thanksgiving falls in the ten business days
    world.publish(
        {
            "provider": "trackly",
            "phone_number": PHONE,
            "list_number": TRACKLY_LIST,
            "event_id": "e-deadline",
            "occurred_at": occurred,
        }
    )
    world.mapping().drain()

    (item,) = [i for i in world.ledger_items(PHONE) if i["target"].endswith("#unsubscribed")]
    assert item["received_at"] == "2026-11-20T15:00:00.000Z"
    assert item["deadline_at"] == iso_utc(deadline_at(datetime(2026, 11, 20, 15, tzinfo=UTC)))
    # Ten business days, Thanksgiving skipped: the end of Monday 7 December in US Eastern.
    assert item["deadline_at"] == "2026-12-08T04:59:59.999Z"
    assert item["received_day"] == "2026-11-20"
    assert item["received_key"] == f"2026-11-20T15:00:00.000Z#{PHONE}#{item['target']}"
    assert item["completed_at"] == item["settled_at"]
    assert item["within_deadline"] is (item["completed_at"] <= item["deadline_at"])


def test_without_occurred_at_the_opt_out_is_received_when_the_queue_had_it(world: RelayWorld) -> None:
    before = iso_utc(datetime.now(UTC))
    world.publish({"provider": "trackly", "phone_number": PHONE, "list_number": TRACKLY_LIST})
    world.mapping().drain()
    (item,) = world.ledger_items(PHONE)
    assert before[:15] <= item["received_at"] <= iso_utc(datetime.now(UTC))  # SQS's SentTimestamp
    assert item["within_deadline"] is True


def test_a_later_occurred_at_than_first_seen_cannot_move_the_deadline_later() -> None:
    timeline = timeline_of("2026-12-31T00:00:00Z", "2026-11-20T10:00:00.000Z")
    assert timeline is not None and timeline.received_at == "2026-11-20T10:00:00.000Z"
    edge = timeline_of("0001-01-01T00:00:00Z", "not a date")  # never raises
    assert edge is None or edge.received_at.startswith("0001-01-01")
