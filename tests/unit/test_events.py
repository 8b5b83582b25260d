"""The event contract: what producers may send and how it is read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from optout_relay.domain.events import InvalidOptOut, parse_optout
from optout_relay.domain.model import InboundMessage
from optout_relay.errors import InvalidEvent
from optout_relay.providers.http import HttpClient
from optout_relay.providers.registry import PROVIDERS

ADAPTERS = {name: cls(cls.default_base_url, HttpClient(timeout_seconds=1)) for name, cls in PROVIDERS.items()}
TRACKLY = {"provider": "trackly", "phone_number": "+14155559876", "list_number": "+18005551234"}
TATANGO = {"provider": "tatango", "phone_number": "+12065551111", "list_id": 123}


def parse(body: Any, message_id: str = "msg-1", region: str = "US"):
    text = body if isinstance(body, str) else json.dumps(body)
    return parse_optout(InboundMessage(message_id=message_id, body=text, receive_count=1), ADAPTERS, region)


def rejection(body: Any, region: str = "US") -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        parse(body, region=region)
    return caught.value


def test_trackly_event_is_normalised_to_e164() -> None:
    optout = parse({**TRACKLY, "phone_number": "(415) 555-9876", "list_number": "800-555-1234"})
    assert optout.provider == "trackly"
    assert optout.phone.e164 == "+14155559876"
    assert (optout.list_ref.field, optout.list_ref.value) == ("list_number", "+18005551234")
    assert optout.event_id == "msg-1"  # defaults to the SQS messageId
    assert optout.target == "trackly#+18005551234#msg-1"


@pytest.mark.parametrize(
    "raw", ["2065551111", "(206) 555-1111", "206.555.1111", "+1 206-555-1111", "1-206-555-1111"]
)
def test_tatango_accepts_common_national_formats(raw: str) -> None:
    optout = parse({**TATANGO, "phone_number": raw})
    assert optout.phone.e164 == "+12065551111"
    assert optout.phone.national_number == "2065551111"


def test_national_numbers_use_default_phone_region() -> None:
    optout = parse({**TRACKLY, "phone_number": "020 7946 0958", "list_number": "+442079460000"}, region="GB")
    assert optout.phone.e164 == "+442079460958"


@pytest.mark.parametrize("list_id", [123, "123", " 123 ", 123.0])
def test_tatango_list_id_integer_or_digit_string(list_id: Any) -> None:
    assert parse({**TATANGO, "list_id": list_id}).list_ref.value == "123"


@pytest.mark.parametrize("list_id", [0, -4, "0x1F", "12a", True, 1.5, "", None, "1" * 19])
def test_tatango_list_id_must_be_positive_integer(list_id: Any) -> None:
    assert rejection({**TATANGO, "list_id": list_id}).code == "schema_violation"


def test_optional_fields_are_carried_and_extras_ignored() -> None:
    optout = parse(
        {
            **TRACKLY,
            "event_id": "crm-42",
            "occurred_at": "2026-11-20T09:30:00+01:00",
            "source": "stop-keyword",
            "campaign": "ignored",
        }
    )
    assert optout.event_id == "crm-42"
    assert optout.occurred_at == "2026-11-20T08:30:00Z"
    assert optout.source == "stop-keyword"


def test_sns_wrapped_event_is_unwrapped() -> None:
    sns = {
        "Type": "Notification",
        "MessageId": "sns-1",
        "TopicArn": "arn:aws:sns:us-east-1:1:t",
        "Message": json.dumps(TATANGO),
    }
    assert parse(sns).list_ref.value == "123"


def test_eventbridge_wrapped_event_is_unwrapped() -> None:
    bridge = {
        "version": "0",
        "id": "e-1",
        "detail-type": "OptOut",
        "source": "crm",
        "detail": TRACKLY,
    }
    assert parse(bridge).phone.e164 == "+14155559876"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "schema_violation"),
        ({"Type": "Notification", "Message": "{broken"}, "invalid_json"),
        ({"phone_number": "+14155559876", "list_number": "+18005551234"}, "schema_violation"),
        ({**TRACKLY, "provider": "Twilio"}, "unknown_provider"),
        ({**TRACKLY, "phone_number": "12345"}, "invalid_phone"),
        ({**TRACKLY, "phone_number": "+1 555 555 5555"}, "invalid_phone"),
        ({**TRACKLY, "phone_number": 4155559876}, "invalid_phone"),
        ({**TRACKLY, "list_number": "not a number"}, "invalid_list_number"),
        ({"provider": "trackly", "phone_number": "+14155559876"}, "schema_violation"),
        ({**TATANGO, "phone_number": "+442079460958"}, "unsupported_region"),
        ({**TRACKLY, "event_id": "x" * 129}, "schema_violation"),
        ({**TRACKLY, "event_id": 7}, "schema_violation"),
        ({**TRACKLY, "occurred_at": "yesterday"}, "schema_violation"),
        ({**TRACKLY, "source": "s" * 257}, "schema_violation"),
    ],
)
def test_invalid_events_are_rejected_with_a_code(body: Any, code: str) -> None:
    assert rejection(body).code == code


def test_trackly_serves_any_country() -> None:
    assert parse({**TRACKLY, "phone_number": "+442079460958"}).phone.country_code == 44


def test_canadian_and_puerto_rican_numbers_reach_tatango() -> None:
    assert parse({**TATANGO, "phone_number": "+15146708700"}).phone.region == "CA"
    assert parse({**TATANGO, "phone_number": "+17875550123"}).phone.national_number == "7875550123"


def test_every_problem_is_reported_at_once_and_keeps_what_was_valid() -> None:
    error = rejection({"provider": "tatango", "phone_number": "+12065551111", "list_id": "abc", "source": 5})
    assert isinstance(error, InvalidOptOut)
    assert "list_id" in error.message and "source" in error.message
    assert error.partial.provider == "tatango"
    assert error.partial.phone is not None and error.partial.phone.e164 == "+12065551111"


def test_error_messages_never_repeat_the_phone_number() -> None:
    error = rejection({**TRACKLY, "phone_number": "+1 415 555 98761234"})
    assert "98761234" not in str(error) and "4155559876" not in str(error)
    error = rejection({**TATANGO, "phone_number": "+442079460958"})
    assert "2079460958" not in str(error)
