"""The fleet-wide rate budget in DynamoDB: slots, queue turns, penalties, stale copies,
and several processes sharing one table."""

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
from optout_relay.aws.rate_budget import DynamoRateBudget
from optout_relay.domain.rate_window import GRANT_LEAD, window_for
from optout_relay_dev import moto_server
from optout_relay_dev.local_stack import create_local_stack

SECRETS = {"trackly": {"api_key": "k"}, "tatango": {"email": "e", "api_key": "k"}}
TATANGO = 1200 / 3600


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class SlowWrites:
    """A DynamoDB client whose next ``late`` UpdateItem calls come back after the clock moved."""

    def __init__(self, dynamodb: Any, clock: Clock, late: int, seconds: float) -> None:
        self.dynamodb, self.clock, self.late, self.seconds = dynamodb, clock, late, seconds
        self.updates = 0

    def update_item(self, **request: Any) -> Any:
        self.updates += 1
        try:
            return self.dynamodb.update_item(**request)
        finally:
            if self.late:
                self.late -= 1
                self.clock.now += self.seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dynamodb, name)


@pytest.fixture
def table() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        stack = create_local_stack(session, secrets=SECRETS)
        yield session.client("dynamodb"), stack.table_name


def slots(dynamodb: Any, name: str, provider: str = "tatango") -> dict[str, float]:
    key = {"phone_number": {"S": "#rate-budget"}, "target": {"S": provider}}
    item = dynamodb.get_item(TableName=name, Key=key)["Item"]
    return {k: float(v["N"]) for k, v in item.items() if k.startswith("slot_")}


def test_no_window_holds_more_calls_than_the_rate(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    clock = Clock()
    budget = DynamoRateBudget(name, dynamodb, clock)
    assert [budget.take("tatango", 10) for _ in range(10)] == [0.0] * 10
    wait = budget.take("tatango", 10)
    assert wait >= 1 and wait == int(wait)  # SQS counts visibility in whole seconds
    clock.now += window_for(10).seconds  # the calls went by their deadlines: still in the window
    assert budget.take("tatango", 10, waited=True) == 1.0
    clock.now += GRANT_LEAD + 0.01  # now the first deadlines have left it
    assert budget.take("tatango", 10) == 0.0
    assert budget.take("trackly", 10) == 0.0  # one budget per provider
    assert len(slots(dynamodb, name)) == 10


def test_records_without_budget_queue_for_distinct_turns_in_whole_seconds(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    budget = DynamoRateBudget(name, dynamodb, Clock())
    assert budget.take("tatango", TATANGO) == 0.0
    # One call per 3 s (and the margin): each record queued comes back for its own window.
    assert [budget.take("tatango", TATANGO) for _ in range(3)] == [3.0, 6.0, 9.0]


def test_a_record_that_waited_retries_in_a_second_without_queueing_again(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    budget = DynamoRateBudget(name, dynamodb, Clock())
    assert budget.take("tatango", TATANGO) == 0.0
    assert budget.take("tatango", TATANGO, waited=True) == 1.0
    assert budget.take("tatango", TATANGO) == 3.0  # the queue did not move for it


def test_two_environments_share_one_budget(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    clock = Clock()
    first, second = DynamoRateBudget(name, dynamodb, clock), DynamoRateBudget(name, dynamodb, clock)
    assert first.take("tatango", 1) == 0.0
    assert second.take("tatango", 1) >= 1.0


def test_a_stale_copy_costs_a_failed_write_never_a_second_call_in_a_slot(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    clock = Clock()
    watched = SlowWrites(dynamodb, clock, late=0, seconds=0)
    first, second = DynamoRateBudget(name, dynamodb, clock), DynamoRateBudget(name, watched, clock)
    assert second.take("tatango", 2) == 0.0  # its copy: one slot taken, one free
    assert first.take("tatango", 2) == 0.0  # takes the other one
    assert second.take("tatango", 2, waited=True) == 1.0
    assert watched.updates == 2  # the claim that failed brought the current item back
    assert second.take("tatango", 2, waited=True) == 1.0
    assert watched.updates == 2  # now it knows: no request to say there is no budget


def test_a_write_that_comes_back_late_keeps_its_slot_under_a_later_deadline(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    clock = Clock()
    budget = DynamoRateBudget(name, SlowWrites(dynamodb, clock, late=1, seconds=3 * GRANT_LEAD), clock)
    assert budget.take("tatango", 10) == 0.0
    assert list(slots(dynamodb, name).values()) == [pytest.approx(clock.now + GRANT_LEAD)]


def test_a_slot_whose_writes_keep_coming_back_late_grants_nothing(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    clock = Clock()
    budget = DynamoRateBudget(name, SlowWrites(dynamodb, clock, late=100, seconds=3 * GRANT_LEAD), clock)
    assert budget.take("tatango", 10) == 1.0
    assert len(slots(dynamodb, name)) == 1  # held under its last deadline, no call made in it


def test_a_429_halves_the_rate_for_a_while(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    clock = Clock()
    budget = DynamoRateBudget(name, dynamodb, clock)
    budget.shrink("tatango", 0.5, seconds=60)
    assert [budget.take("tatango", 10) for _ in range(6)] == [0.0] * 5 + [1.0]
    clock.now += 61
    assert [budget.take("tatango", 10) for _ in range(10)] == [0.0] * 10


def test_a_penalty_set_elsewhere_applies_to_a_stale_copy(table: tuple[Any, str]) -> None:
    dynamodb, name = table
    clock = Clock()
    first, second = DynamoRateBudget(name, dynamodb, clock), DynamoRateBudget(name, dynamodb, clock)
    assert second.take("tatango", 10) == 0.0  # its copy has no penalty
    first.shrink("tatango", 0.5, seconds=60)
    granted = [second.take("tatango", 10) for _ in range(5)]
    assert 1 + granted.count(0.0) <= 5  # the call made before the 429 counts against the smaller budget
    clock.now += window_for(10).seconds + GRANT_LEAD + 0.01
    assert [second.take("tatango", 10) for _ in range(5)] == [0.0] * 5
    assert second.take("tatango", 10) >= 1.0


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
    wait = budget.take("tatango", 10, waited=True)
    if wait == 0.0:
        grants.append(time.time())
    else:
        time.sleep(0.02)  # a load generator asking again, not a synchronisation
print(json.dumps(grants))
"""


@pytest.fixture
def serial_moto() -> Iterator[str]:
    """moto's server with atomic conditional writes, as DynamoDB has them."""
    with moto_server.in_a_process() as endpoint:
        yield endpoint


def test_several_processes_sharing_one_table_stay_inside_the_rate(serial_moto: str) -> None:
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    stack = create_local_stack(session, secrets=SECRETS, endpoint_url=serial_moto)
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": serial_moto,
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
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
    assert all(worker.returncode == 0 for worker in workers)
    # A grant is made before its slot's deadline, and a slot is reused only once that
    # deadline has left the window: no second of grants can hold more than the rate.
    busiest = max(sum(1 for t in grants if start <= t < start + 1) for start in grants)
    assert busiest <= 10
    achieved = (len(grants) - 1) / (grants[-1] - grants[0])
    assert achieved / 10 >= 0.5  # generous: three processes and moto share two cores
