"""Fleet-wide request budgets: one token bucket item per provider, shared by every
concurrent execution environment through conditional writes.

The bucket lives in the results table under a partition key no phone number can
have (``#rate-budget``), so it needs no table or permission of its own. Capacity is
one token: calls are paced evenly, and no one-second window ever holds more than
the configured rate. A 429 from the provider shrinks the rate for a while.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optout_relay.aws.clients import client
from optout_relay.aws.errors import aws_call, error_code, transient_from
from optout_relay.aws.ledger import PARTITION_KEY, SORT_KEY

BUDGET_PARTITION = "#rate-budget"
# Kept back from the configured rate for network jitter between the grant and the call.
HEADROOM = 0.95
_CONTENDED_TRIES = 6
_MICROS = 1_000_000
_EPSILON = 1e-4


class DynamoRateBudget:
    def __init__(self, table_name: str, dynamodb: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb
        self.clock = clock

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = client("dynamodb")
        return self._dynamodb

    def _key(self, provider: str) -> dict[str, Any]:
        return {PARTITION_KEY: {"S": BUDGET_PARTITION}, SORT_KEY: {"S": provider}}

    def take(self, provider: str, rate_per_second: float) -> float:
        """Take one call's budget: ``0.0`` if granted, else the seconds until there is some."""
        for _ in range(_CONTENDED_TRIES):
            with aws_call("DynamoDB GetItem (rate budget)"):
                item = self.dynamodb.get_item(
                    TableName=self.table_name, Key=self._key(provider), ConsistentRead=True
                ).get("Item")
            now = int(self.clock() * _MICROS)
            rate = rate_per_second * HEADROOM
            if item and now < int(item.get("penalty_until", {}).get("N", "0")):
                rate *= float(item["penalty_factor"]["N"])
            previous = int(item["refreshed_at"]["N"]) if item else None
            tokens = float(item["tokens"]["N"]) if item else 1.0
            if previous is not None:
                tokens = min(1.0, tokens + max(0, now - previous) / _MICROS * rate)
            if tokens < 1.0 - _EPSILON:  # microsecond timestamps round the refill a little
                return (1.0 - tokens) / rate
            try:
                self.dynamodb.update_item(
                    TableName=self.table_name,
                    Key=self._key(provider),
                    UpdateExpression="SET tokens = :tokens, refreshed_at = :now",
                    ConditionExpression=(
                        "attribute_not_exists(refreshed_at)"
                        if previous is None
                        else "refreshed_at = :previous"
                    ),
                    ExpressionAttributeValues={
                        ":tokens": {"N": repr(max(0.0, tokens - 1.0))},
                        ":now": {"N": str(now)},
                        **({":previous": {"N": str(previous)}} if previous is not None else {}),
                    },
                )
            except ClientError as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    continue  # another environment took a token first: read again
                raise transient_from("DynamoDB UpdateItem (rate budget)", error) from None
            except BotoCoreError as error:
                raise transient_from("DynamoDB UpdateItem (rate budget)", error) from None
            return 0.0
        return 1.0 / (rate_per_second * HEADROOM)

    def shrink(self, provider: str, factor: float, seconds: float) -> None:
        """After a 429: run at ``factor`` of the rate for ``seconds``."""
        until = int((self.clock() + seconds) * _MICROS)
        with aws_call("DynamoDB UpdateItem (rate budget)"):
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key=self._key(provider),
                UpdateExpression="SET penalty_factor = :factor, penalty_until = :until",
                ExpressionAttributeValues={":factor": {"N": repr(factor)}, ":until": {"N": str(until)}},
            )
