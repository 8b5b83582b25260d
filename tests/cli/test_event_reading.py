"""What the CLI reads of an event, by scope: the normalised body it sends, how it names
what the event reaches, and the subscriptions the simulators are seeded with."""

from __future__ import annotations

from optout_relay.domain.model import ListRef, Phone
from optout_relay.domain.targets import Scope
from optout_relay_dev.cli.event_reading import ReadEvent, json_list_value
from optout_relay_dev.cli.seeding import merge, subscriptions_for

PHONE = Phone("+12065550100", 1, "2065550100", "US")


def test_an_everywhere_body_has_no_provider_and_sorted_lower_case_purposes() -> None:
    event = ReadEvent("e-1", PHONE, Scope.everywhere([" Marketing", "alerts"]), source="crm")
    assert event.fan_out and event.provider is None
    assert event.body == {
        "scope": "everywhere",
        "phone_number": "+12065550100",
        "purposes": ["alerts", "marketing"],
        "event_id": "e-1",
        "source": "crm",
    }
    assert event.describe() == "everywhere for alerts, marketing"
    assert event.summary_key == "~summary#e-1"


def test_a_provider_scope_body_names_its_account() -> None:
    event = ReadEvent("e-2", PHONE, Scope.of_provider("tatango", "tatango-b"), "2026-04-11T12:00:00Z")
    assert event.body == {
        "scope": "provider",
        "provider": "tatango",
        "phone_number": "+12065550100",
        "account": "tatango-b",
        "event_id": "e-2",
        "occurred_at": "2026-04-11T12:00:00Z",
    }
    assert event.describe() == "every tatango list (account tatango-b)"


def test_a_one_list_body_is_as_before_scopes() -> None:
    event = ReadEvent("e-3", PHONE, Scope.single("tatango", ListRef("list_id", "4242")))
    assert not event.fan_out
    assert event.body == {
        "provider": "tatango",
        "phone_number": "+12065550100",
        "list_id": 4242,
        "event_id": "e-3",
    }
    assert event.ledger_key("tatango-b#4242") == "tatango-b#4242#e-3"
    assert [json_list_value(v) for v in ("+18005550100", "4242", "0042")] == ["+18005550100", 4242, "0042"]


def test_only_one_list_events_subscribe_anyone() -> None:
    one = ReadEvent("e-1", PHONE, Scope.single("trackly", ListRef("list_number", "+18005550100")))
    everywhere = ReadEvent("e-2", PHONE, Scope.everywhere())
    seeded = subscriptions_for([one, everywhere])
    assert seeded == {"trackly": {"lists": {"+18005550100": ["+12065550100"]}}}
    assert merge(seeded, {"tatango": {"lists": {"4242": ["+12065550101"]}}}, seeded) == {
        "trackly": {"lists": {"+18005550100": ["+12065550100", "+12065550100"]}},
        "tatango": {"lists": {"4242": ["+12065550101"]}},
    }
