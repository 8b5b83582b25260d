"""The fleet-wide token bucket in DynamoDB: paced grants, shared by several processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from optout_relay.aws.rate_budget import DynamoRateBudget, window_for
from optout_relay_dev.local_stack import create_local_stack
from optout_relay_dev.moto_server import AtomicMotoServer

SECRETS = {"trackly": {"api_key": "k"}, "tatango": {"email": "e", "api_key": "k"}}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        stack = create_local_stack(session, secrets=SECRETS)
        yield session.client("dynamodb"), stack.table_name


def test_no_window_holds_more_than_the_rate(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    clock = Clock()
    budget = DynamoRateBudget(name, dynamodb, clock)
    assert window_for(10) == (1.0, 9) and window_for(1200 / 3600) == (3.0, 1)
    assert [budget.take("tatango", 10) for _ in range(9)] == [0.0] * 9
    assert budget.take("tatango", 10) == pytest.approx(1.0)  # back when the first grant leaves the window
    clock.now += 1.0
    assert budget.take("tatango", 10) == 0.0
    assert budget.take("trackly", 10) == 0.0  # one budget per provider


def test_records_without_budget_get_distinct_return_times(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    clock = Clock()
    budget = DynamoRateBudget(name, dynamodb, clock)
    budget.take("tatango", 1200 / 3600)
    waits = [budget.take("tatango", 1200 / 3600) for _ in range(3)]
    assert waits == [pytest.approx(3.0), pytest.approx(6.0), pytest.approx(9.0)]


def test_two_environments_share_one_budget(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    clock = Clock()
    first, second = DynamoRateBudget(name, dynamodb, clock), DynamoRateBudget(name, dynamodb, clock)
    assert first.take("tatango", 1) == 0.0
    assert second.take("tatango", 1) == pytest.approx(1.0)


def test_a_429_halves_the_rate_for_a_while(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    clock = Clock()
    budget = DynamoRateBudget(name, dynamodb, clock)
    budget.shrink("tatango", 0.5, seconds=60)
    assert [budget.take("tatango", 10) for _ in range(5)] == [0.0] * 4 + [pytest.approx(1.0)]
    clock.now += 61
    assert [budget.take("tatango", 10) for _ in range(9)] == [0.0] * 9


def test_the_budget_is_not_stored_under_any_phone_number(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    DynamoRateBudget(name, dynamodb, Clock()).take("tatango", 1)
    (item,) = dynamodb.scan(TableName=name)["Items"]
    assert not item["phone_number"]["S"].startswith("+")


WORKER = """
import json, sys, time
from optout_relay.aws.rate_budget import DynamoRateBudget
budget = DynamoRateBudget(sys.argv[1])
grants, deadline = [], time.time() + float(sys.argv[2])
while time.time() < deadline:
    wait = budget.take("tatango", 10)
    if wait == 0.0:
        grants.append(time.time())
    else:
        time.sleep(min(wait, 0.02))
print(json.dumps(grants))
"""


def test_several_processes_sharing_one_table_stay_inside_the_rate() -> None:
    server = AtomicMotoServer("127.0.0.1")  # conditional writes atomic, as in DynamoDB
    server.start()
    try:
        host, port = server.address
        endpoint = f"http://{host}:{port}"
        session = boto3.Session(region_name="us-east-1")
        stack = create_local_stack(session, secrets=SECRETS, endpoint_url=endpoint)
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint}
        seconds = 3.0
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, stack.table_name, str(seconds)],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        grants = sorted(t for worker in workers for t in json.loads(worker.communicate(timeout=60)[0]))
    finally:
        server.stop()
    busiest = max(sum(1 for t in grants if start <= t < start + 1) for start in grants)
    assert busiest <= 10
    achieved = len(grants) / (grants[-1] - grants[0]) if len(grants) > 1 else 0
    assert achieved / 10 >= 0.5  # generous: three processes and moto share two cores
    assert all(worker.returncode == 0 for worker in workers)
