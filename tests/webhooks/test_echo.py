"""Echo suppression, the receiver's side: a webhook that repeats an unsubscribe the relay
itself made is answered 200 and not published; a genuine new STOP still is."""

from __future__ import annotations

from .conftest import (
    PHONE,
    TATANGO_LIST,
    TRACKLY_LIST,
    TRACKLY_PHONE,
    Harness,
    tatango_body,
    tatango_event,
    trackly_body,
    trackly_event,
)

# The relay's fan-out settled these lists for event "stop-1" a minute after the STOP.
SETTLED = "2026-11-20T14:01:00.000+00:00"


def test_a_webhook_for_a_list_the_relay_just_unsubscribed_is_an_echo(harness: Harness) -> None:
    harness.ledger.settled("tatango", str(TATANGO_LIST), "stop-1", SETTLED)

    status, answer = harness.send(tatango_event())

    assert (status, answer) == (200, {"status": "echo"})
    assert harness.queue.bodies == []
    assert harness.ledger.queries == [(PHONE, "tatango")], "one Query, by the number"
    assert harness.metrics == {("tatango", "WebhookEcho"): 1}


def test_a_trackly_echo_is_recognised_by_its_list_number(harness: Harness) -> None:
    harness.ledger.settled("trackly", TRACKLY_LIST, "stop-1", SETTLED)

    assert harness.send(trackly_event())[1] == {"status": "echo"}
    assert harness.queue.bodies == []


def test_a_genuine_new_stop_later_is_published(harness: Harness) -> None:
    harness.ledger.settled("tatango", str(TATANGO_LIST), "stop-1", SETTLED)
    later = "2026-11-20T10:16:01-04:00"  # 15 min 1 s after the relay's outcome

    status, answer = harness.send(tatango_event(tatango_body(unsubscribe_date=later, opt_id=900077)))

    assert (status, answer) == (200, {"status": "published"})
    assert [event["event_id"] for event in harness.queue.events] == ["tatango-opt-900077"]


def test_the_echo_window_is_fifteen_minutes_either_side(harness: Harness) -> None:
    harness.ledger.settled("trackly", TRACKLY_LIST, "stop-1", SETTLED)
    within = ["2026-11-20T13:46:00.000Z", "2026-11-20T14:16:00.000Z"]
    outside = ["2026-11-20T13:45:59.000Z", "2026-11-20T14:16:01.000Z"]

    answers = [
        harness.send(trackly_event(trackly_body(timestamp=at)))[1]["status"] for at in within + outside
    ]

    assert answers == ["echo", "echo", "published", "published"]


def test_a_retry_of_a_webhook_already_recorded_as_its_own_origin_is_not_an_echo(harness: Harness) -> None:
    # The relay recorded the origin list as unsubscribed by the provider, under this very
    # webhook's event: a provider's retry is published again (the relay dedupes it).
    harness.ledger.settled("tatango", str(TATANGO_LIST), "tatango-opt-900001", SETTLED)

    assert harness.send(tatango_event())[1] == {"status": "published"}


def test_an_outcome_at_another_list_or_provider_is_no_echo(harness: Harness) -> None:
    harness.ledger.settled("tatango", "4243", "stop-1", SETTLED)
    harness.ledger.settled("trackly", "+18005550000", "stop-1", SETTLED)
    harness.ledger.settled("trackly", str(TATANGO_LIST), "stop-1", SETTLED)

    assert harness.send(tatango_event())[1] == {"status": "published"}
    assert harness.send(trackly_event())[1] == {"status": "published"}
    assert {e["phone_number"] for e in harness.queue.events} == {PHONE, TRACKLY_PHONE}


def test_the_echo_check_failing_publishes_anyway(harness: Harness) -> None:
    harness.ledger.settled("tatango", str(TATANGO_LIST), "stop-1", SETTLED)
    harness.ledger.failing = True

    assert harness.send(tatango_event())[1] == {"status": "published"}
    assert harness.metrics[("tatango", "WebhookEchoCheckFailed")] == 1


def test_without_a_ledger_there_is_no_echo_check(harness: Harness) -> None:
    harness.receiver.ledger = None
    assert harness.send(tatango_event())[1] == {"status": "published"}
