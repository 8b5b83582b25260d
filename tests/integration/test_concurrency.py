"""Records of one batch run concurrently, with partial-batch semantics and FIFO order kept."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import optout_relay.handler as handler_module
from optout_relay_dev.event_source import EventSourceMapping
from optout_relay_dev.simulators.base import Request, Response

from tests.integration.conftest import TATANGO_LIST, TRACKLY_LIST, RelayWorld


def phones(count: int, start: int = 100) -> list[str]:
    return [f"+1206555{n:04d}" for n in range(start, start + count)]


def answer_for(simulator: Any, match: str, response: Response) -> None:
    """Make the simulator answer ``response`` to every request whose path or body holds ``match``."""
    original = simulator.handle

    def handle(request: Request) -> tuple[Response, bool | None]:
        if match in request.path or match.encode() in request.body:
            return response, None
        return original(request)

    simulator.handle = handle


def test_mixed_success_failure_and_deferral_in_one_concurrent_batch(world: RelayWorld) -> None:
    numbers = phones(8)
    for number in numbers:
        world.trackly.subscribe(TRACKLY_LIST, number)
    failing, deferred = numbers[2], numbers[5]
    answer_for(world.trackly, failing, Response.json(503, {"error": "unavailable", "code": "internal_error"}))
    answer_for(
        world.trackly,
        deferred,
        Response.json(429, {"error": "slow down", "code": "rate_limited"}).with_header("Retry-After", "600"),
    )
    events = [
        {"provider": "trackly", "phone_number": n, "list_number": TRACKLY_LIST, "event_id": n}
        for n in numbers
    ]
    world.rewire(RECORD_CONCURRENCY="8", MAX_ATTEMPTS_PER_INVOCATION="3")
    ids = world.publish(*events, "{broken")
    result = world.mapping(redelivery_delay=None).poll_once()

    assert sorted(result.failed_ids) == sorted([ids[2], ids[5]])
    statuses = {n: world.ledger(n)[0]["status"] for n in numbers}
    assert [n for n, status in statuses.items() if status != "unsubscribed"] == [failing, deferred]
    assert world.ledger(failing)[0]["error_code"] == "provider_unavailable"
    assert world.ledger(failing)[0]["attempts"] == "3"
    assert world.ledger(deferred)[0]["error_code"] == "rate_limited"
    assert world.ledger(deferred)[0]["attempts"] == "1"  # deferred, not slept on
    assert [d["error_code"] for d in world.dead_letters()] == ["invalid_json"]
    visible = world.sqs.get_queue_attributes(
        QueueUrl=world.stack.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
    assert visible == "2"  # both still on the queue, nothing lost


def test_fifo_group_order_is_kept_and_a_failure_holds_back_the_rest_of_its_group(world: RelayWorld) -> None:
    sqs = world.sqs
    fifo_url = sqs.create_queue(
        QueueName="optout-relay-queue.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    group_a, group_b = phones(3, 200), phones(3, 300)
    entries = []
    for group, numbers in (("a", group_a), ("b", group_b)):
        for number in numbers:
            world.tatango.subscribe(TATANGO_LIST, number)
            body = {
                "provider": "tatango",
                "phone_number": number,
                "list_id": TATANGO_LIST,
                "event_id": number,
            }
            entries.append({"Id": number[1:], "MessageBody": json.dumps(body), "MessageGroupId": group})
    sqs.send_message_batch(QueueUrl=fifo_url, Entries=entries)
    broken = group_a[1]
    answer_for(
        world.tatango, broken[2:], Response.json(503, {"status": "error", "error": "Service Unavailable"})
    )
    world.rewire(RECORD_CONCURRENCY="4", MAX_ATTEMPTS_PER_INVOCATION="1")
    mapping = EventSourceMapping(world.sqs, fifo_url, handler_module.lambda_handler, redelivery_delay=None)
    result = mapping.poll_once()

    called = ["+1" + call.path.rsplit("/", 1)[1] for call in world.tatango.calls]
    assert [c for c in called if c in group_a] == group_a[:2]  # a1, then a2 failed; a3 never called
    assert [c for c in called if c in group_b] == group_b  # in order
    assert len(result.failed_ids) == 2
    assert world.ledger(group_a[0])[0]["status"] == "unsubscribed"
    assert world.ledger(broken)[0]["status"] == "retrying"
    assert world.ledger(group_a[2]) == []  # held back unprocessed, to keep the group's order
    assert all(world.ledger(n)[0]["status"] == "unsubscribed" for n in group_b)


def test_a_batch_runs_at_the_speed_of_the_network(world: RelayWorld) -> None:
    world.trackly.latency_seconds = 0.2  # provider waiting dominates, as in production
    numbers = phones(10, 400)
    for number in numbers:
        world.trackly.subscribe(TRACKLY_LIST, number)

    def timed_batch(workers: str, offset: int) -> float:
        world.rewire(RECORD_CONCURRENCY=workers)
        batch = [
            {
                "provider": "trackly",
                "phone_number": n,
                "list_number": TRACKLY_LIST,
                "event_id": f"{n}-{offset}",
            }
            for n in numbers
        ]
        world.publish(*batch)
        mapping = world.mapping(batch_size=10)
        started = time.perf_counter()
        mapping.drain()
        return time.perf_counter() - started

    sequential = timed_batch("1", 0)
    concurrent = timed_batch("10", 1)
    assert sequential / concurrent > 2  # ideal is ~10x; generous for a loaded 2-core machine


def test_a_batch_reads_the_ledger_in_one_round_trip_and_batch_writes_every_final_outcome(
    world: RelayWorld,
) -> None:
    numbers = phones(10, 500)
    events = [
        {"provider": "trackly", "phone_number": n, "list_number": TRACKLY_LIST, "event_id": n}
        for n in numbers
    ]
    for number in numbers[:8]:
        world.trackly.subscribe(TRACKLY_LIST, number)
    world.publish(*events)
    calls: list[str] = []
    written: list[str] = []
    original = handler_module.relay.ledger.dynamodb

    class Counting:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            calls.append(name)
            return getattr(original, name)

        def batch_write_item(self, RequestItems: dict[str, Any]) -> Any:  # boto3's argument name
            calls.append("batch_write_item")
            for requests in RequestItems.values():
                written.extend(r["PutRequest"]["Item"]["phone_number"]["S"] for r in requests)
            return original.batch_write_item(RequestItems=RequestItems)

    handler_module.relay.ledger._dynamodb = Counting()  # type: ignore[attr-defined]
    response = world.mapping().poll_once().response
    assert response["batchItemFailures"] == []
    assert calls.count("batch_get_item") == 1
    assert calls.count("get_item") == 0
    # Every final outcome shares BatchWriteItem round trips (how many share one depends on
    # when workers finish: tests/unit/test_group_commit.py), not_subscribed too: each kind
    # of outcome has an item of its own, so no put can hide a real unsubscribe.
    assert calls.count("update_item") == 0
    assert 1 <= calls.count("batch_write_item") <= 10
    assert sorted(written) == sorted(numbers)
    items = [item for number in numbers for item in world.ledger(number)]
    assert [(item["status"], item["attempts"]) for item in items] == [("unsubscribed", "1")] * 8 + [
        ("not_subscribed", "1")
    ] * 2
    assert all(item["first_seen_at"] and item["processed_at"] for item in items)


def test_calls_in_flight_stay_within_record_concurrency_and_a_record_waiting_on_its_write_holds_none(
    world: RelayWorld,
) -> None:
    """RECORD_CONCURRENCY bounds provider calls, not records: with two call slots, the first
    two records' writes are held until the fourth record's call has arrived, which only a
    record that is not waiting on a write can make."""
    world.trackly.latency_seconds = 0.05
    numbers = phones(6, 600)
    for number in numbers:
        world.trackly.subscribe(TRACKLY_LIST, number)
    world.rewire(RECORD_CONCURRENCY="2")
    world.publish(
        *[
            {"provider": "trackly", "phone_number": n, "list_number": TRACKLY_LIST, "event_id": n}
            for n in numbers
        ]
    )
    fourth_call = threading.Event()
    world.trackly.on_arrival(4, fourth_call.set)
    original = handler_module.relay.ledger.dynamodb
    held: list[bool] = []

    class HeldWrites:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(original, name)

        def batch_write_item(self, RequestItems: dict[str, Any]) -> Any:  # boto3's argument name
            held.append(fourth_call.wait(timeout=10))
            return original.batch_write_item(RequestItems=RequestItems)

    handler_module.relay.ledger._dynamodb = HeldWrites()  # type: ignore[attr-defined]
    response = world.mapping().poll_once().response

    assert response["batchItemFailures"] == []
    assert held and all(held)  # no write had to wait for the fourth call in vain
    assert all(world.ledger(n)[0]["status"] == "unsubscribed" for n in numbers)
    # Never three calls at once: any three arrivals span at least one call's latency.
    arrivals = sorted(call.at for call in world.trackly.calls)
    assert len(arrivals) == 6
    assert all(later - first >= 0.049 for first, later in zip(arrivals, arrivals[2:], strict=False))
