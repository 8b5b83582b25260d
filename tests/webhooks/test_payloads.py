"""The documented webhook bodies read into the event the relay takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from optout_relay.domain.events import parse_optout
from optout_relay.domain.model import InboundMessage
from optout_relay.providers.registry import CONTRACTS
from webhook_receiver.stop_event import StopEvent
from webhook_receiver.tatango_payload import parse_tatango
from webhook_receiver.trackly_payload import parse_trackly

from .conftest import PHONE, TRACKLY_LIST, TRACKLY_PHONE, tatango_body, trackly_body

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO_ROOT / "events" / "optout-event.schema.json").read_text(encoding="utf-8"))


def tatango(**overrides: object) -> StopEvent:
    stop = parse_tatango(json.dumps(tatango_body(**overrides)).encode())
    assert isinstance(stop, StopEvent)
    return stop


def trackly(**overrides: object) -> StopEvent:
    stop = parse_trackly(json.dumps(trackly_body(**overrides)).encode())
    assert isinstance(stop, StopEvent)
    return stop


@pytest.mark.parametrize("phone", ["2065550123", "12065550123", "+12065550123", 2065550123, " 2065550123 "])
def test_tatango_numbers_become_e164(phone: object) -> None:
    assert tatango(phone_number=phone).phone_number == PHONE


def test_tatango_ids_may_come_as_digit_strings() -> None:
    stop = tatango(campaign_id="4242", opt_id="900001")
    assert (stop.list_value, stop.event_id) == (4242, "tatango-opt-900001")


def test_the_unsubscribe_time_is_stored_in_utc() -> None:
    assert tatango(unsubscribe_date="2026-11-20T10:00:00-04:00").message()["occurred_at"] == (
        "2026-11-20T14:00:00.000Z"
    )
    assert (
        tatango(unsubscribe_date="2026-11-20T10:00:00").message()["occurred_at"] == "2026-11-20T10:00:00.000Z"
    )


def test_the_trackly_id_is_the_same_however_the_time_is_written() -> None:
    first = trackly(timestamp="2026-11-20T14:00:00.000Z")
    again = trackly(timestamp="2026-11-20T09:00:00-05:00")
    later = trackly(timestamp="2026-11-20T14:00:00.001Z")
    other_list = trackly(list_number="+18005550000")

    assert first.event_id == again.event_id
    assert len({first.event_id, later.event_id, other_list.event_id}) == 3


@pytest.mark.parametrize(
    ("keyword", "source"),
    [
        ("STOP", "trackly webhook: STOP"),
        ("stopall", "trackly webhook: STOPALL"),
        (" Cancel ", "trackly webhook: CANCEL"),
        ("STOP\n<b>", "trackly webhook: STOPB"),
        (None, "trackly webhook: unsubscribe"),  # an API unsubscribe sends none (assumed)
        ("", "trackly webhook: unsubscribe"),
    ],
)
def test_the_source_names_provider_and_keyword(keyword: str | None, source: str) -> None:
    assert trackly(keyword=keyword).source == source


@pytest.mark.parametrize(
    "stop",
    [
        tatango(),
        trackly(),
        trackly(keyword=None),
        tatango(phone_number="4165550199", campaign_id=1),  # a Canadian number
    ],
    ids=["tatango", "trackly", "trackly-api", "tatango-canada"],
)
def test_published_events_are_valid_everywhere_events_for_the_relay(stop: StopEvent) -> None:
    body = stop.message_body()
    Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(
        json.loads(body)
    )

    request = parse_optout(InboundMessage("message-1", body, 1), CONTRACTS, "US")

    assert request.event_id == stop.event_id
    assert request.phone.e164 == stop.phone_number
    assert request.scope.kind.value == "everywhere"
    assert request.source == stop.source


def test_the_origin_names_the_list_the_stop_came_from() -> None:
    assert tatango().message()["origin"] == {"provider": "tatango", "list_id": 4242, "webhook_id": "900001"}
    origin = trackly().message()["origin"]
    assert origin["list_number"] == TRACKLY_LIST
    assert origin["provider"] == "trackly"
    assert trackly().phone_number == TRACKLY_PHONE
