"""AWS fault injection on every write path, through the real handler, moto and the
provider simulators: ledger batch and single writes, the DLQ send, visibility changes
and re-enqueues fail by throttling past the SDK's retries, by a timeout after the write
took effect, or by leaving items unprocessed. The outcome is never lost nor mis-recorded.

The faults are a client wrapper handed to the data layer in place of the boto3 client
(the same seam the data layer offers tests), not patches of boto3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optout_relay.handler as handler_module
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from optout_relay_dev.simulators.faults import Fault

from tests.integration.conftest import TRACKLY_LIST, RelayWorld

PHONE = "+14155559876"

AwsFault = Callable[[Callable[[], Any]], Any]


def throttled(operation: str) -> AwsFault:
    def fault(call: Callable[[], Any]) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, operation)

    return fault


def timed_out_after_the_write(call: Callable[[], Any]) -> Any:
    call()  # it took effect; the answer never arrived
    raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


def left_unprocessed(call: Callable[[], Any], request: dict[str, Any]) -> Any:
    return {"UnprocessedItems": request["RequestItems"]}


class FaultyClient:
    """Forwards to the real client; the next ``times`` calls of an operation meet a fault."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.plans: dict[str, list[AwsFault]] = {}
        self.calls: dict[str, int] = {}

    def fail(self, operation: str, fault: AwsFault, times: int = 1) -> FaultyClient:
        self.plans.setdefault(operation, []).extend([fault] * times)
        return self

    def __getattr__(self, operation: str) -> Any:
        method = getattr(self.real, operation)

        def call(**request: Any) -> Any:
            self.calls[operation] = self.calls.get(operation, 0) + 1
            plan = self.plans.get(operation)
            if plan:
                fault = plan.pop(0)
                if fault is left_unprocessed:
                    return left_unprocessed(lambda: None, request)
                return fault(lambda: method(**request))
            return method(**request)

        return call


@pytest.fixture
def faulty(world: RelayWorld) -> dict[str, FaultyClient]:
    relay = handler_module.relay
    clients = {
        "ledger": FaultyClient(world.dynamodb),
        "dead_letters": FaultyClient(world.sqs),
        "source_queue": FaultyClient(world.sqs),
    }
    relay.ledger._dynamodb = clients["ledger"]  # type: ignore[attr-defined]
    relay.dead_letters._sqs = clients["dead_letters"]  # type: ignore[attr-defined]
    relay.source_queue._sqs = clients["source_queue"]  # type: ignore[attr-defined]
    return clients


def trackly_event(event_id: str, phone: str = PHONE) -> dict[str, Any]:
    return {"provider": "trackly", "phone_number": phone, "list_number": TRACKLY_LIST, "event_id": event_id}


def drain(world: RelayWorld) -> None:
    world.mapping(redelivery_delay=0).drain(max_batches=100)


def only_item(world: RelayWorld, phone: str = PHONE) -> dict[str, Any]:
    (item,) = world.ledger(phone)
    return item


def every_letter_has_a_reason(world: RelayWorld) -> list[dict[str, Any]]:
    letters = world.dead_letters()
    assert all(letter.get("error_code") for letter in letters), letters
    return letters


@pytest.mark.parametrize("times", [1, 3, 6])
def test_a_throttled_batch_write_never_loses_the_unsubscribe(
    world: RelayWorld, faulty: dict[str, FaultyClient], times: int
) -> None:
    world.trackly.subscribe(TRACKLY_LIST, PHONE)
    faulty["ledger"].fail("batch_write_item", throttled("BatchWriteItem"), times)
    faulty["ledger"].fail("update_item", throttled("UpdateItem"), times)
    world.publish(trackly_event("e-1"))
    drain(world)
    item = only_item(world)
    assert (item["status"], item["attempts"], item["http_status"]) == ("unsubscribed", "1", "200")
    assert len(world.trackly.calls) == 1 and not world.trackly.is_subscribed(TRACKLY_LIST, PHONE)
    assert world.dead_letters() == []


def test_unprocessed_batch_items_never_lose_the_unsubscribe(
    world: RelayWorld, faulty: dict[str, FaultyClient]
) -> None:
    world.trackly.subscribe(TRACKLY_LIST, PHONE)
    faulty["ledger"].fail("batch_write_item", left_unprocessed, 20)
    world.publish(trackly_event("e-1"))
    drain(world)
    item = only_item(world)
    assert (item["status"], item["attempts"]) == ("unsubscribed", "1")
    assert len(world.trackly.calls) == 1


def test_a_throttled_single_write_never_turns_a_confirmation_into_not_subscribed(
    world: RelayWorld, faulty: dict[str, FaultyClient]
) -> None:
    """The issue's case: the provider said unsubscribed, the write failed past the SDK's
    retries, and the redelivery was answered "not subscribed"."""
    world.trackly.subscribe(TRACKLY_LIST, PHONE)
    faulty["ledger"].fail("batch_get_item", throttled("BatchGetItem"))  # the batch read fails...
    faulty["ledger"].fail("update_item", throttled("UpdateItem"), 5)  # ...and so do the writes
    world.publish(trackly_event("e-1"))
    drain(world)
    item = only_item(world)
    assert (item["status"], item["attempts"]) == ("unsubscribed", "1")
    assert len(world.trackly.calls) == 1


def test_a_write_that_timed_out_after_taking_effect_is_counted_once(
    world: RelayWorld, faulty: dict[str, FaultyClient]
) -> None:
    faulty["ledger"].fail("update_item", timed_out_after_the_write)
    world.publish(trackly_event("e-1"))  # not subscribed: a conditional UpdateItem
    drain(world)
    item = only_item(world)
    assert (item["status"], item["attempts"]) == ("not_subscribed", "1")


@pytest.mark.parametrize("times", [1, 5])
def test_a_throttled_dead_letter_send_still_ends_in_the_dlq_with_its_reason(
    world: RelayWorld, faulty: dict[str, FaultyClient], times: int
) -> None:
    faulty["dead_letters"].fail("send_message", throttled("SendMessage"), times)
    world.publish("{not json")
    drain(world)
    (letter,) = every_letter_has_a_reason(world)
    assert letter["error_code"] == "invalid_json" and letter["body"] == "{not json"


def test_a_dead_letter_send_that_timed_out_after_taking_effect_leaves_a_reason(
    world: RelayWorld, faulty: dict[str, FaultyClient]
) -> None:
    faulty["dead_letters"].fail("send_message", timed_out_after_the_write)
    world.publish("{not json")
    drain(world)
    letters = every_letter_has_a_reason(world)
    assert {letter["error_code"] for letter in letters} == {"invalid_json"}


def test_a_failing_visibility_change_still_brings_the_record_back(
    world: RelayWorld, faulty: dict[str, FaultyClient]
) -> None:
    world.trackly.subscribe(TRACKLY_LIST, PHONE)
    world.trackly.script(Fault.rate_limited(retry_after="600"))  # beyond the cap: defer, don't sleep
    faulty["source_queue"].fail("change_message_visibility", throttled("ChangeMessageVisibility"))
    world.publish(trackly_event("e-1"))
    drain(world)
    assert faulty["source_queue"].calls["change_message_visibility"] == 1
    item = only_item(world)
    assert (item["status"], item["attempts"]) == ("unsubscribed", "2")


def test_a_failing_re_enqueue_of_a_carried_answer_keeps_it_for_the_redelivery(
    world: RelayWorld, faulty: dict[str, FaultyClient]
) -> None:
    world.trackly.subscribe(TRACKLY_LIST, PHONE)
    faulty["ledger"].fail("batch_write_item", throttled("BatchWriteItem"), 3)
    faulty["source_queue"].fail("send_message", throttled("SendMessage"))
    world.publish(trackly_event("e-1"))
    drain(world)
    item = only_item(world)
    assert (item["status"], item["attempts"]) == ("unsubscribed", "1")
    assert len(world.trackly.calls) == 1
    assert world.dead_letters() == []
