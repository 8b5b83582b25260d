"""The provider's evidence and ``settled_at`` in the DynamoDB ledger (moto): written on the
outcome's own item, in the same ``BatchWriteItem``, and read back as plain values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from optout_relay.aws.ledger import DynamoLedger
from optout_relay.domain.model import Status
from optout_relay_dev.cli.ledger_view import item_from_dynamodb, query_phone

from tests.integration.conftest import TATANGO_LIST, TRACKLY_LIST, RelayWorld
from tests.integration.test_ledger import PHONE, TARGET, CountingDynamo, entry
from tests.integration.test_relay_end_to_end import TATANGO_PHONE, TRACKLY_PHONE, tatango_event, trackly_event

EVIDENCE = {
    "http_status": 200,
    "provider_date": "2025-12-31T23:30:00.000Z",
    "request_id": "req-7f3a",
    "unsubscribed": True,
}


class RecordingDynamo(CountingDynamo):
    """Counts every request and keeps what each ``BatchWriteItem`` asked to put."""

    def __init__(self, real: Any) -> None:
        super().__init__(real)
        self.puts: list[list[dict[str, Any]]] = []

    def batch_write_item(self, RequestItems: dict[str, Any]) -> Any:  # boto3's argument name
        (requests,) = RequestItems.values()
        self.puts.append([request["PutRequest"]["Item"] for request in requests])
        return super().batch_write_item(RequestItems)


def raw_item(world: RelayWorld, sort_key: str) -> dict[str, Any]:
    key = {"phone_number": {"S": PHONE}, "target": {"S": sort_key}}
    item: dict[str, Any] = world.dynamodb.get_item(TableName=world.stack.table_name, Key=key)["Item"]
    return item


def test_evidence_is_a_map_on_the_outcome_item_in_the_same_batch_write(world: RelayWorld) -> None:
    dynamo = RecordingDynamo(world.dynamodb)
    ledger = DynamoLedger(world.stack.table_name, dynamodb=dynamo)

    assert ledger.record(entry(Status.UNSUBSCRIBED, http_status=200, evidence=EVIDENCE))

    assert dynamo.calls == ["batch_write_item"]  # no request of its own
    ((put,),) = dynamo.puts
    assert put["target"] == {"S": f"{TARGET}#unsubscribed"}
    assert put["evidence"] == {
        "M": {
            "http_status": {"N": "200"},
            "provider_date": {"S": "2025-12-31T23:30:00.000Z"},
            "request_id": {"S": "req-7f3a"},
            "unsubscribed": {"BOOL": True},
        }
    }
    stored = raw_item(world, f"{TARGET}#unsubscribed")
    assert stored["evidence"] == put["evidence"]
    assert stored["settled_at"] == stored["processed_at"]
    assert item_from_dynamodb(stored)["evidence"] == EVIDENCE


def test_every_final_outcome_has_settled_at_and_a_step_on_the_way_neither(world: RelayWorld) -> None:
    ledger = DynamoLedger(world.stack.table_name, dynamodb=world.dynamodb)

    assert ledger.record(entry(Status.RETRYING, http_status=503, error_code="provider_unavailable"))
    assert ledger.record(entry(Status.FAILED, http_status=503, error_code="provider_unavailable"))

    progress, final = raw_item(world, TARGET), raw_item(world, f"{TARGET}#final")
    assert "settled_at" not in progress and "evidence" not in progress
    assert final["settled_at"] == final["processed_at"] and "evidence" not in final


def test_the_relay_writes_each_providers_evidence_with_its_outcome(world: RelayWorld) -> None:
    world.trackly.subscribe(TRACKLY_LIST, TRACKLY_PHONE)
    world.tatango.subscribe(TATANGO_LIST, TATANGO_PHONE)
    world.publish(
        trackly_event(event_id="e-trackly"),
        tatango_event(event_id="e-tatango"),
        tatango_event(phone="+12065550123", event_id="e-not-subscribed"),
    )
    before = datetime.now(UTC).replace(microsecond=0).isoformat(timespec="milliseconds")
    before = before.replace("+00:00", "Z")

    assert world.mapping().poll_once().response == {"batchItemFailures": []}

    table = world.stack.table_name
    (trackly_row,) = query_phone(world.dynamodb, table, TRACKLY_PHONE)
    (tatango_row,) = query_phone(world.dynamodb, table, TATANGO_PHONE)
    (absent_row,) = query_phone(world.dynamodb, table, "+12065550123")
    assert set(trackly_row["evidence"]) == {"http_status", "provider_date", "unsubscribed"}
    assert trackly_row["evidence"]["unsubscribed"] is True and trackly_row["evidence"]["http_status"] == 200
    assert set(tatango_row["evidence"]) == {"http_status", "provider_date", "opted_out_at"}
    assert tatango_row["evidence"]["http_status"] == 200
    assert absent_row["status"] == "not_subscribed"
    assert absent_row["evidence"]["http_status"] == 404 and "opted_out_at" not in absent_row["evidence"]
    for row in (trackly_row, tatango_row, absent_row):
        # The simulators' clocks are this machine's: what they said is between the start and
        # the relay's settlement (HTTP dates and Tatango's timestamps are whole seconds).
        assert before <= row["evidence"]["provider_date"] <= row["settled_at"]
        assert row["settled_at"] == row["processed_at"]
    assert before <= tatango_row["evidence"]["opted_out_at"] <= tatango_row["settled_at"]
