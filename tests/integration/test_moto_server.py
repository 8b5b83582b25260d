"""The local AWS endpoint: DynamoDB's conditional writes are atomic there, as in AWS."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from optout_relay_dev.moto_server import AtomicMotoServer


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = AtomicMotoServer("127.0.0.1")
    server.start()
    try:
        host, port = server.address
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_only_one_of_many_concurrent_conditional_writes_succeeds(endpoint: str) -> None:
    dynamodb: Any = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(max_pool_connections=32),
    )
    dynamodb.create_table(
        TableName="claims",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def claim(writer: int) -> str:
        try:
            dynamodb.put_item(
                TableName="claims",
                Item={"pk": {"S": "the-one"}, "writer": {"N": str(writer)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "won"

    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(claim, range(64)))
    won = [writer for writer, outcome in enumerate(outcomes) if outcome == "won"]
    assert len(won) == 1
    assert outcomes.count("ConditionalCheckFailedException") == 63
    item = dynamodb.get_item(TableName="claims", Key={"pk": {"S": "the-one"}})["Item"]
    assert item["writer"] == {"N": str(won[0])}
