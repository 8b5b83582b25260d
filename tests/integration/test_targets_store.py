"""The targets store against moto: versions, caching, and invalid versions never in force."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from optout_relay.aws.targets_store import (
    LATEST_MAX_AGE_SECONDS,
    MAX_STORED_BODY_BYTES,
    PARTITION_KEY,
    SORT_KEY,
    DynamoTargetsStore,
    decode_item,
    encode_item,
    targets_source,
)
from optout_relay.domain.targets import FixedTargets, Scope, select_targets
from optout_relay.errors import TransientError

from tests.targets_samples import DEFAULTS, sample_document, thousand_lists

TABLE = "relay-targets"


class CountingDynamo:
    """The moto client, counting reads; ``fail`` makes every call a DynamoDB error."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.reads: list[str] = []
        self.fail = False

    def __getattr__(self, name: str) -> Any:
        if name not in ("query", "get_item"):
            return getattr(self.real, name)

        def call(**request: Any) -> Any:
            self.reads.append(name)
            if self.fail:
                raise ClientError({"Error": {"Code": "InternalServerError"}}, name)
            return getattr(self.real, name)(**request)

        return call


@pytest.fixture
def dynamodb() -> Iterator[CountingDynamo]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
                {"AttributeName": SORT_KEY, "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield CountingDynamo(client)


def put(dynamodb: CountingDynamo, version: int, body: Any) -> None:
    item = encode_item(version, body, applied_at="2026-12-01T00:00:00Z", applied_by="test")
    dynamodb.real.put_item(
        TableName=TABLE, Item=item, ConditionExpression=f"attribute_not_exists({SORT_KEY})"
    )


def store(dynamodb: CountingDynamo, max_age: int = 0) -> DynamoTargetsStore:
    return DynamoTargetsStore(TABLE, DEFAULTS, "US", dynamodb=dynamodb, max_age=max_age)


def invalid_document() -> dict[str, Any]:
    body = sample_document()
    body["accounts"][1]["lists"].append({"list_id": 4242})  # also held by brand A
    body["accounts"][2]["lists"].append({"list_number": "+1206555012"})  # not a valid number
    return body


def test_an_empty_table_means_the_default_document(dynamodb: CountingDynamo) -> None:
    source = store(dynamodb)
    document = source.current()
    assert source.current() is document
    assert (document.version, document.is_stored) == (0, False)
    assert {a.id for a in document.all_accounts()} == {"trackly", "tatango"}


def test_the_latest_version_is_in_force(dynamodb: CountingDynamo) -> None:
    put(dynamodb, 1, {"accounts": sample_document()["accounts"][:1]})
    put(dynamodb, 2, sample_document())
    document = store(dynamodb).current()
    assert document.version == 2
    assert document.list_count == 5


def test_the_latest_version_is_cached_for_less_than_a_minute(dynamodb: CountingDynamo) -> None:
    assert LATEST_MAX_AGE_SECONDS < 60
    put(dynamodb, 1, sample_document())
    cached = store(dynamodb, max_age=LATEST_MAX_AGE_SECONDS)
    assert cached.current().version == 1
    put(dynamodb, 2, sample_document())
    assert [cached.current().version for _ in range(20)] == [1] * 20
    assert dynamodb.reads == ["query"]
    cached.items.clear_cache()  # what the cache's age does within LATEST_MAX_AGE_SECONDS
    assert cached.current().version == 2


def test_a_version_is_parsed_once(dynamodb: CountingDynamo) -> None:
    put(dynamodb, 1, sample_document())
    uncached = store(dynamodb)
    first = uncached.current()
    assert uncached.current() is first  # read again, same version: not parsed again
    assert dynamodb.reads == ["query", "query"]


def test_an_invalid_version_is_refused_and_the_last_valid_one_stays(
    dynamodb: CountingDynamo, captured_logs: io.StringIO
) -> None:
    put(dynamodb, 1, sample_document())
    source = store(dynamodb)
    assert source.current().version == 1
    put(dynamodb, 2, invalid_document())
    assert source.current().version == 1
    assert source.current().version == 1
    logs = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    refusals = [log for log in logs if log.get("targets_version") == 2]
    assert len(refusals) == 1  # logged once, not every minute
    assert refusals[0]["level"] == "ERROR"
    assert refusals[0]["in_force_version"] == 1
    assert refusals[0]["problem_count"] == 2
    assert "1206555012" not in captured_logs.getvalue()  # numbers masked, as everywhere in logs
    assert source.version(2) is None
    put(dynamodb, 3, sample_document())
    assert source.current().version == 3


def test_a_cold_start_on_an_invalid_latest_version_finds_the_newest_valid_one(
    dynamodb: CountingDynamo,
) -> None:
    put(dynamodb, 1, {"accounts": sample_document()["accounts"][:1]})
    put(dynamodb, 2, sample_document())
    put(dynamodb, 3, invalid_document())
    assert store(dynamodb).current().version == 2


def test_with_no_valid_version_at_all_records_wait(dynamodb: CountingDynamo) -> None:
    put(dynamodb, 1, invalid_document())
    with pytest.raises(TransientError) as caught:
        store(dynamodb).current()
    assert caught.value.code == "targets_document_invalid"


def test_a_damaged_item_is_refused(dynamodb: CountingDynamo) -> None:
    put(dynamodb, 1, sample_document())
    item = encode_item(2, sample_document(), applied_at="t", applied_by="test")
    item["sha256"] = {"S": "0" * 64}
    dynamodb.real.put_item(TableName=TABLE, Item=item)
    assert store(dynamodb).current().version == 1


def test_an_older_version_by_number(dynamodb: CountingDynamo) -> None:
    put(dynamodb, 1, {"accounts": sample_document()["accounts"][:1]})
    put(dynamodb, 2, sample_document())
    source = store(dynamodb)
    assert source.current().version == 2
    older = source.version(1)
    assert older is not None
    assert [a.id for a in older.accounts] == ["tatango-brand-a"]
    assert source.version(1) is older
    assert source.version(0) == source.version(0)
    assert source.version(0) is not None
    assert source.version(9) is None


def test_a_read_failure_keeps_the_version_in_force(dynamodb: CountingDynamo) -> None:
    put(dynamodb, 1, sample_document())
    source = store(dynamodb)
    assert source.current().version == 1
    dynamodb.fail = True
    assert source.current().version == 1
    with pytest.raises(TransientError):
        store(dynamodb).current()  # a cold start has nothing in force: records wait
    with pytest.raises(TransientError):
        source.version(7)


def test_the_store_drives_selection(dynamodb: CountingDynamo) -> None:
    put(dynamodb, 1, sample_document())
    document = store(dynamodb).current()
    everywhere = select_targets(document, Scope.everywhere(purposes=["marketing"]))
    assert [t.name for t in everywhere] == ["tatango-brand-a#4242", "trackly#+18005551234"]


def test_two_applies_of_the_same_version_cannot_both_win(dynamodb: CountingDynamo) -> None:
    put(dynamodb, 1, sample_document())
    with pytest.raises(ClientError) as caught:
        put(dynamodb, 1, {"accounts": sample_document()["accounts"][:1]})
    assert caught.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert store(dynamodb).current().list_count == 5


def test_size_of_large_documents() -> None:
    thousand = encode_item(1, thousand_lists(1_000), applied_at="t", applied_by="test")
    ten_thousand = encode_item(1, thousand_lists(10_000), applied_at="t", applied_by="test")
    # Measured: about 6 KB and 60 KB compressed (50 KB and 490 KB as JSON).
    assert len(thousand["body"]["B"]) < 12_000
    assert len(ten_thousand["body"]["B"]) < 120_000
    assert decode_item(ten_thousand).body == json.loads(json.dumps(thousand_lists(10_000)))
    assert thousand["lists"] == {"N": "1000"}


def test_a_body_beyond_the_store_is_refused() -> None:
    rng = random.Random(3)
    noise = {"accounts": [{"id": str(n), "x": rng.randbytes(100).hex()} for n in range(4_000)]}
    with pytest.raises(ValueError, match=f"above the {MAX_STORED_BODY_BYTES:,}"):
        encode_item(1, noise, applied_at="t", applied_by="test")


def test_no_table_no_store() -> None:
    source = targets_source(None, DEFAULTS, "US")
    assert isinstance(source, FixedTargets)
    assert source.current().version == 0
