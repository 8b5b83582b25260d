"""Issue 9, "Why": one test per way a record took down its batch, leaked a number or
reached the dead-letter queue without a reason. Each drives the real handler (moto, the
provider simulators, an SQS client as strict as SQS) with a batch built here. About 9 s."""

from __future__ import annotations

import json
from typing import Any

import optout_relay.handler as handler_module
import pytest

from tests.integration.conftest import TRACKLY_LIST

from .harness import BatchRun, Harness, Record, WrappedClients
from .leaks import leaked, log_text, secrets_of

DEPTH = 1_000
NESTED = "[" * DEPTH + "]" * DEPTH


def trackly_event(phone: str, **fields: Any) -> dict[str, Any]:
    return {"provider": "trackly", "phone_number": phone, "list_number": TRACKLY_LIST, **fields}


def record(harness: Harness, body: dict[str, Any] | str, receive_count: int = 1, **options: Any) -> Record:
    text = body if isinstance(body, str) else json.dumps(body)
    return Record(harness.message_id(), text, receive_count, **options)


def subscribed_phone(harness: Harness) -> str:
    phone = harness.new_phone()
    harness.subscribe("trackly", phone)
    return phone


def neighbour(harness: Harness, receive_count: int = 1) -> tuple[Record, str]:
    """A valid opt-out of a subscribed number, to share the batch with the bad record."""
    phone = subscribed_phone(harness)
    return record(harness, trackly_event(phone), receive_count), phone


def assert_relayed(harness: Harness, run: BatchRun, good: Record, phone: str) -> None:
    item = run.settled_item(good.message_id)
    assert item is not None and item["status"] == "unsubscribed", f"neighbour not relayed: {item}"
    assert not harness.is_subscribed("trackly", phone)
    assert good.message_id not in run.failed_ids


def assert_dead_lettered(run: BatchRun, bad: Record, error_code: str) -> dict[str, str]:
    assert run.raised is None, f"the handler raised {run.raised!r}"
    letter = run.dead_letter(bad.message_id)
    assert letter is not None, (
        f"not dead-lettered by the function; given back: {bad.message_id in run.failed_ids}"
    )
    assert (letter["error_code"], letter["source_message_id"]) == (error_code, bad.message_id), letter
    assert bad.message_id not in run.failed_ids
    return letter


def assert_no_call_for(run: BatchRun, *phones: str) -> None:
    assert not [call for call in run.provider_calls if call.phone in phones], run.provider_calls


@pytest.mark.parametrize("where", ["body", "sns_message", "extra_field"])
def test_body_nested_a_thousand_levels_is_dead_lettered_alone(harness: Harness, where: str) -> None:
    phone = subscribed_phone(harness)
    event_text = json.dumps(trackly_event(phone))[:-1] + f', "nested": {NESTED}}}'
    body = {
        "body": NESTED,
        "sns_message": json.dumps({"Type": "Notification", "MessageId": "m", "Message": event_text}),
        "extra_field": event_text,
    }[where]
    bad = record(harness, body)
    good, good_phone = neighbour(harness)

    run = harness.run([bad, good])

    assert_dead_lettered(run, bad, "body_too_deep")
    assert_relayed(harness, run, good, good_phone)
    assert_no_call_for(run, phone)


def test_body_over_64_kib_is_dead_lettered_and_64_kib_is_relayed(harness: Harness) -> None:
    def padded_to(size: int, phone: str) -> str:
        # Two bytes per "é": fewer than 65,536 characters, measured in UTF-8 bytes.
        text = json.dumps(trackly_event(phone, padding=""), ensure_ascii=False)
        missing = size - len(text.encode())
        return text.replace(
            '"padding": ""', '"padding": "' + "\u00e9" * (missing // 2) + "x" * (missing % 2) + '"'
        )

    large_phone, limit_phone = subscribed_phone(harness), subscribed_phone(harness)
    too_large = record(harness, padded_to(65_537, large_phone))
    at_limit = record(harness, padded_to(65_536, limit_phone))
    assert [len(r.body.encode()) for r in (too_large, at_limit)] == [65_537, 65_536]
    assert len(too_large.body) < 65_536

    run = harness.run([too_large, at_limit])

    assert_dead_lettered(run, too_large, "body_too_large")
    assert_no_call_for(run, large_phone)
    assert_relayed(harness, run, at_limit, limit_phone)


@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-12:00"])
def test_occurred_at_beyond_what_converts_to_utc_is_dead_lettered_alone(
    harness: Harness, occurred_at: str
) -> None:
    phone = harness.new_phone()
    bad = record(harness, trackly_event(phone, occurred_at=occurred_at))
    good, good_phone = neighbour(harness)

    run = harness.run([bad, good])

    assert_dead_lettered(run, bad, "date_out_of_range")
    assert_relayed(harness, run, good, good_phone)
    assert_no_call_for(run, phone)


def test_swapped_provider_and_phone_number_show_no_digits_of_the_number(harness: Harness) -> None:
    phone = harness.new_phone()
    bad = record(harness, {"provider": phone, "phone_number": "trackly", "list_number": TRACKLY_LIST})

    run = harness.run([bad])

    letter = assert_dead_lettered(run, bad, "unknown_provider")
    assert "***" + phone[-4:] in letter["error_message"], letter["error_message"]
    assert_nothing_leaked(run, secrets_of(bad.body, phone))


@pytest.mark.parametrize("event_id", ["crm\u0001optout", "crm\ufffeoptout", "crm\ud800optout"])
def test_event_id_sqs_refuses_in_an_attribute_still_reaches_the_dlq(harness: Harness, event_id: str) -> None:
    bad = record(harness, trackly_event("12", event_id=event_id))  # an invalid phone: rejected

    run = harness.run([bad])

    # Such an event id is refused by the contract (it could never travel as an attribute of
    # a re-enqueued copy); the dead letter is sent all the same, with both problems named.
    letter = assert_dead_lettered(run, bad, "schema_violation")
    assert "event_id" in letter["error_message"] and "phone_number" in letter["error_message"]
    assert json.loads(letter["body"])["event_id"] == event_id, "the body must be the original"


def test_event_id_with_a_digit_run_is_masked_in_logs_and_dead_letter_attributes(harness: Harness) -> None:
    rejected = record(harness, trackly_event("12", event_id="crm-98765432101"))
    phone = subscribed_phone(harness)
    valid = record(harness, trackly_event(phone, event_id="crm-97531086420"))

    run = harness.run([rejected, valid])

    letter = assert_dead_lettered(run, rejected, "invalid_phone")
    assert letter.get("event_id"), "masked, not dropped"
    assert_relayed(harness, run, valid, phone)
    assert_nothing_leaked(run, {"98765432101", "97531086420"})


def test_pinned_event_id_attribute_is_validated_like_event_id(harness: Harness) -> None:
    phone = subscribed_phone(harness)
    bad = record(harness, trackly_event(phone), pinned_event_id="x" * 2_000)

    run = harness.run([bad])

    assert_dead_lettered(run, bad, "schema_violation")
    assert_no_call_for(run, phone)


class LedgerFailingFor:
    """The relay's ledger, but every read that involves ``phone`` raises RuntimeError."""

    def __init__(self, inner: Any, phone: str) -> None:
        self._inner, self._phone = inner, phone

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def statuses(self, keys: list[tuple[str, str]]) -> Any:
        if any(phone_number == self._phone for phone_number, _ in keys):
            raise RuntimeError("injected: the ledger read broke")
        return self._inner.statuses(keys)


class ProviderFailingFor:
    """A provider adapter whose call for ``phone`` raises RuntimeError (no request is sent)."""

    def __init__(self, inner: Any, phone: str) -> None:
        self._inner, self._phone = inner, phone

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def unsubscribe(self, phone: Any, list_ref: Any, credentials: Any) -> Any:
        if phone.e164 == self._phone:
            raise RuntimeError("injected: the adapter broke")
        return self._inner.unsubscribe(phone, list_ref, credentials)


@pytest.mark.parametrize("broken", ["ledger_read", "provider_call"])
def test_unexpected_exception_is_retried_then_dead_lettered_as_internal_error(
    harness: Harness, broken: str
) -> None:
    phone = subscribed_phone(harness)
    relay = handler_module.relay
    if broken == "ledger_read":
        relay.effects.ledger = relay.planner.ledger = LedgerFailingFor(relay.ledger, phone)
    else:
        relay.caller.clients = WrappedClients(relay.caller.clients, lambda a: ProviderFailingFor(a, phone))
    body = trackly_event(phone, event_id="crm-unexpected")

    first = record(harness, body, receive_count=1)
    good, good_phone = neighbour(harness, receive_count=1)
    run = harness.run([first, good])
    assert run.raised is None, f"the handler raised {run.raised!r}"
    assert run.failed_ids == {first.message_id}, "retried like a transient error, and only this record"
    assert run.dead_letter(first.message_id) is None
    assert_relayed(harness, run, good, good_phone)

    last_receive = harness.max_receive_count
    last = record(harness, body, receive_count=last_receive)
    good, good_phone = neighbour(harness, receive_count=last_receive)
    run = harness.run([last, good])
    letter = assert_dead_lettered(run, last, "internal_error")
    assert "RuntimeError" in letter["error_message"], letter["error_message"]
    assert_relayed(harness, run, good, good_phone)


@pytest.mark.parametrize(
    ("field", "value", "error_code"),
    [
        ("phone_number", "415-CALL-NOW", "invalid_phone"),
        ("phone_number", "+1 (206) GOT-MILK", "invalid_phone"),
        ("phone_number", "+1 415-555-0123 ext. 7", "invalid_phone"),
        ("list_number", "1-800-FLOWERS", "invalid_list_number"),
    ],
)
def test_numbers_written_with_letters_are_invalid(
    harness: Harness, field: str, value: str, error_code: str
) -> None:
    body = trackly_event(harness.new_phone(), **{field: value})
    bad = record(harness, body)

    run = harness.run([bad])

    assert_dead_lettered(run, bad, error_code)
    assert not run.provider_calls, f"a number written with letters reached a provider: {run.provider_calls}"


def assert_nothing_leaked(run: BatchRun, secrets: set[str]) -> None:
    assert not leaked(secrets, log_text(run.logs)), "digits of a body's number in the logs"
    attributes = run.dead_letter_attributes()
    assert not leaked(secrets, attributes), (
        f"digits of a body's number in dead-letter attributes: {attributes}"
    )
