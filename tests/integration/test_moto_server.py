"""The local AWS endpoint: DynamoDB requests one at a time (conditional writes are then
atomic, as in AWS), every other request concurrent."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from optout_relay_dev.moto_server import AtomicMotoServer, DynamoDbOneAtATime


class ProbeApp:
    """A WSGI app that counts how many requests it is serving at once."""

    def __init__(self, meet: threading.Barrier | None = None) -> None:
        self.inside = 0
        self.most_inside = 0
        self.lock = threading.Lock()
        self.meet = meet

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self.lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            if self.meet is not None:
                self.meet.wait(timeout=0.5)  # broken if the others cannot get in meanwhile
        except threading.BrokenBarrierError:
            pass
        finally:
            with self.lock:
                self.inside -= 1
        start_response("200 OK", [])
        return [b"{}"]


def call(app: DynamoDbOneAtATime, target: str) -> list[bytes]:
    return list(app({"HTTP_X_AMZ_TARGET": target}, lambda status, headers: None))


@pytest.mark.parametrize(
    ("target", "most_at_once"),
    [
        ("DynamoDB_20120810.UpdateItem", 1),  # one at a time: conditional writes are atomic
        ("AmazonSQS.ReceiveMessage", 4),  # concurrent: a long poll holds nothing else up
    ],
)
def test_only_dynamodb_requests_are_served_one_at_a_time(target: str, most_at_once: int) -> None:
    probe = ProbeApp(meet=threading.Barrier(4))
    app = DynamoDbOneAtATime(probe)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: call(app, target), range(4)))
    assert probe.most_inside == most_at_once


def test_the_server_answers_boto3_and_keeps_conditional_writes_exclusive() -> None:
    server = AtomicMotoServer("127.0.0.1")
    server.start()
    try:
        host, port = server.address
        session = boto3.Session(region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        dynamodb: Any = session.client("dynamodb", endpoint_url=f"http://{host}:{port}")
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

        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(claim, range(16)))
    finally:
        server.stop()
    assert outcomes.count("won") == 1
    assert outcomes.count("ConditionalCheckFailedException") == 15
