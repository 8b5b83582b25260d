"""The DynamoDB ledger against moto: batched success writes keep the item's history,
and nothing ever replaces a success with a failure."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from optout_relay.aws.ledger import DynamoLedger
from optout_relay.domain.model import LedgerEntry, Status
from optout_relay.errors import TransientError

from tests.integration.conftest import RelayWorld

PHONE = "+12065550142"
TARGET = "trackly#+18005551234#evt-1"
KEY = (PHONE, TARGET)


def entry(status: Status, calls: int = 1, **extra: Any) -> LedgerEntry:
    return LedgerEntry(
        phone_number=PHONE,
        target=TARGET,
        event_id="evt-1",
        provider="trackly",
        status=status,
        message_id="m-1",
        receive_count=1,
        list_field="list_number",
        list_value="+18005551234",
        attempts_added=calls,
        **extra,
    )


class CountingDynamo:
    def __init__(self, real: Any, unprocessed_rounds: int = 0) -> None:
        self.real = real
        self.calls: list[str] = []
        self.unprocessed_rounds = unprocessed_rounds
        self.fail_reads = False

    def batch_get_item(self, **request: Any) -> Any:
        self.calls.append("batch_get_item")
        if self.fail_reads:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "BatchGetItem")
        return self.real.batch_get_item(**request)

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.real, name)

    def batch_write_item(self, RequestItems: dict[str, Any]) -> Any:  # boto3's argument name
        self.calls.append("batch_write_item")
        if self.unprocessed_rounds:
            self.unprocessed_rounds -= 1
            return {"UnprocessedItems": RequestItems}
        return self.real.batch_write_item(RequestItems=RequestItems)


@pytest.fixture
def ledger_and_dynamo(world: RelayWorld) -> tuple[DynamoLedger, CountingDynamo, RelayWorld]:
    dynamo = CountingDynamo(world.dynamodb)
    return DynamoLedger(world.stack.table_name, dynamodb=dynamo), dynamo, world


def only_item(world: RelayWorld) -> dict[str, Any]:
    (item,) = world.ledger(PHONE)
    return item


def test_a_batched_success_carries_on_the_attempts_and_first_seen_of_earlier_failures(
    ledger_and_dynamo: tuple[DynamoLedger, CountingDynamo, RelayWorld],
) -> None:
    ledger, dynamo, world = ledger_and_dynamo
    failure = entry(Status.RETRYING, calls=2, http_status=503, error_code="provider_unavailable")
    assert ledger.record(failure)
    first_seen = only_item(world)["first_seen_at"]

    assert ledger.statuses([KEY]) == {KEY: Status.RETRYING}
    assert ledger.record(entry(Status.UNSUBSCRIBED, calls=1, http_status=200))

    item = only_item(world)
    assert dynamo.calls.count("update_item") == 1 and dynamo.calls.count("batch_write_item") == 1
    assert item["status"] == "unsubscribed" and item["attempts"] == "3"
    assert item["first_seen_at"] == first_seen and item["http_status"] == "200"
    assert "error_code" not in item and item["list_number"] == "+18005551234"


def test_two_steps_of_one_key_in_a_batch_add_up(
    ledger_and_dynamo: tuple[DynamoLedger, CountingDynamo, RelayWorld],
) -> None:
    ledger, _, world = ledger_and_dynamo
    ledger.statuses([KEY])
    assert ledger.record(entry(Status.RETRYING, calls=2, error_code="provider_unavailable"))
    assert ledger.record(entry(Status.UNSUBSCRIBED, calls=1))
    assert only_item(world)["attempts"] == "3"


def test_items_dynamodb_leaves_unprocessed_are_retried(world: RelayWorld) -> None:
    dynamo = CountingDynamo(world.dynamodb, unprocessed_rounds=2)
    ledger = DynamoLedger(world.stack.table_name, dynamodb=dynamo)
    ledger.statuses([KEY])
    assert ledger.record(entry(Status.UNSUBSCRIBED))
    assert dynamo.calls.count("batch_write_item") == 3
    assert only_item(world)["status"] == "unsubscribed"


def test_an_item_still_unprocessed_after_the_retries_fails_its_record(world: RelayWorld) -> None:
    dynamo = CountingDynamo(world.dynamodb, unprocessed_rounds=99)
    ledger = DynamoLedger(world.stack.table_name, dynamodb=dynamo)
    ledger.statuses([KEY])
    with pytest.raises(TransientError) as raised:
        ledger.record(entry(Status.UNSUBSCRIBED))
    assert raised.value.code == "aws_throttled"
    assert world.ledger(PHONE) == []


def test_a_failure_after_a_success_never_replaces_it(
    ledger_and_dynamo: tuple[DynamoLedger, CountingDynamo, RelayWorld],
) -> None:
    ledger, _, world = ledger_and_dynamo
    assert ledger.record(entry(Status.UNSUBSCRIBED))
    ledger.record(entry(Status.RETRYING, error_code="provider_unavailable"))
    assert ledger.record(entry(Status.FAILED, error_code="provider_unavailable"))
    assert only_item(world)["status"] == "unsubscribed"
    assert ledger.statuses([KEY]) == {KEY: Status.UNSUBSCRIBED}


def test_every_final_outcome_is_a_batched_put_and_a_retrying_step_an_update(
    ledger_and_dynamo: tuple[DynamoLedger, CountingDynamo, RelayWorld],
) -> None:
    ledger, dynamo, world = ledger_and_dynamo
    for status in (Status.NOT_SUBSCRIBED, Status.REJECTED, Status.FAILED, Status.UNSUBSCRIBED):
        assert ledger.record(entry(status))
    assert dynamo.calls.count("batch_write_item") == 4 and "update_item" not in dynamo.calls
    assert ledger.record(entry(Status.RETRYING))
    assert dynamo.calls.count("update_item") == 1
    assert {item["target"] for item in world.ledger_items(PHONE)} == {
        TARGET,
        TARGET + "#unsubscribed",
        TARGET + "#not_subscribed",
        TARGET + "#final",
    }
    # rejected and failed share the final item: the later one stands, with its own calls.
    assert (only_item(world)["status"], only_item(world)["attempts"]) == ("unsubscribed", "4")


def test_a_failing_batch_read_is_a_transient_error(
    ledger_and_dynamo: tuple[DynamoLedger, CountingDynamo, RelayWorld],
) -> None:
    ledger, dynamo, _ = ledger_and_dynamo
    dynamo.fail_reads = True
    with pytest.raises(TransientError):
        ledger.statuses([KEY])


@pytest.mark.parametrize("last", ["unsubscribed", "not_subscribed"])
def test_two_concurrent_deliveries_end_with_the_unsubscribe_whichever_writes_last(
    ledger_and_dynamo: tuple[DynamoLedger, CountingDynamo, RelayWorld], last: str
) -> None:
    """One delivery's provider call removed the number; a concurrent duplicate's call was
    answered "not subscribed". Both read the target unsettled, both write, in either order."""
    ledger, _, world = ledger_and_dynamo
    assert ledger.statuses([KEY]) == {KEY: None}
    answers = [entry(Status.UNSUBSCRIBED, http_status=200), entry(Status.NOT_SUBSCRIBED, http_status=200)]
    if last == "unsubscribed":
        answers.reverse()
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert all(pool.map(ledger.record, answers))
    item = only_item(world)
    assert (item["status"], item["attempts"]) == ("unsubscribed", "2")
    assert ledger.statuses([KEY]) == {KEY: Status.UNSUBSCRIBED}
