"""Fleet-wide request budgets, shared by every concurrent execution environment.

One item per provider in the results table (partition ``#rate-budget``, so no phone
number can collide with it and no extra table or permission is needed) holds:

- ``grants``: the times of the calls granted in the last window. A call is granted
  only while fewer than the budget's calls fall in the window, so no window ever
  holds more than the configured rate (a sliding-window log; unlike a token bucket
  it lets records that come back together all use the window's budget at once).
- ``next_deferral``: a cursor that hands records with no budget distinct return
  times, spaced at the rate, so they come back when budget will be there instead
  of all at once.
- ``penalty_factor`` / ``penalty_until``: after a provider's 429, a smaller budget.

Every change is a conditional write on ``version``: two environments never both
take the last call of a window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optout_relay.aws.clients import LazyClient
from optout_relay.aws.errors import aws_call, error_code, transient_from
from optout_relay.aws.ledger import PARTITION_KEY, SORT_KEY

BUDGET_PARTITION = "#rate-budget"
# Kept back from the configured rate for jitter between a grant and the call's arrival.
HEADROOM = 0.95
_CONTENDED_TRIES = 8


def window_for(rate_per_second: float) -> tuple[float, int]:
    """The sliding window (seconds) and how many calls it allows: 10/s -> 9 per 1 s,
    1200/3600 -> 1 per 3 s."""
    window = max(1.0, 1.0 / rate_per_second)
    return window, max(1, math.floor(rate_per_second * window * HEADROOM))


class DynamoRateBudget:
    dynamodb = LazyClient("dynamodb")

    def __init__(self, table_name: str, dynamodb: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb
        self.clock = clock

    def _key(self, provider: str) -> dict[str, Any]:
        return {PARTITION_KEY: {"S": BUDGET_PARTITION}, SORT_KEY: {"S": provider}}

    def take(self, provider: str, rate_per_second: float) -> float:
        """``0.0`` if one call may go now; else the seconds after which this record should return."""
        for _ in range(_CONTENDED_TRIES):
            with aws_call("DynamoDB GetItem (rate budget)"):
                item = self.dynamodb.get_item(
                    TableName=self.table_name, Key=self._key(provider), ConsistentRead=True
                ).get("Item", {})
            now = self.clock()
            rate = rate_per_second
            if now < float(item.get("penalty_until", {}).get("N", "0")):
                rate *= float(item["penalty_factor"]["N"])
            window, allowed = window_for(rate)
            recent = sorted(float(t) for t in item.get("grants", {}).get("NS", []) if float(t) > now - window)
            cursor = float(item.get("next_deferral", {}).get("N", "0"))
            updates: dict[str, Any]
            if len(recent) < allowed:
                updates, wait = {"grants": {"NS": [repr(t) for t in [*recent, now]]}}, 0.0
            else:
                # Return no sooner than the oldest grant leaves the window, and after the
                # records already sent away: one window's budget of them per window.
                slot = max(recent[0] + window, cursor)
                updates = {"next_deferral": {"N": repr(slot + window / allowed)}}
                wait = max(slot - now, 0.001)
            if self._write(provider, item, updates):
                return wait
        return window_for(rate_per_second)[0]

    def _write(self, provider: str, item: dict[str, Any], updates: dict[str, Any]) -> bool:
        version = int(item.get("version", {}).get("N", "0"))
        names = {f"#f{i}": name for i, name in enumerate(updates)}
        values = {f":v{i}": value for i, value in enumerate(updates.values())}
        assignments = ", ".join(f"#f{i} = :v{i}" for i in range(len(updates)))
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key=self._key(provider),
                UpdateExpression=f"SET {assignments}, #version = :next",
                ConditionExpression="attribute_not_exists(#version) OR #version = :version",
                ExpressionAttributeNames={**names, "#version": "version"},
                ExpressionAttributeValues={
                    **values,
                    ":version": {"N": str(version)},
                    ":next": {"N": str(version + 1)},
                },
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False  # another environment changed the budget first: read again
            raise transient_from("DynamoDB UpdateItem (rate budget)", error) from None
        except BotoCoreError as error:
            raise transient_from("DynamoDB UpdateItem (rate budget)", error) from None
        return True

    def shrink(self, provider: str, factor: float, seconds: float) -> None:
        """After a 429: run at ``factor`` of the rate for ``seconds``."""
        with aws_call("DynamoDB UpdateItem (rate budget)"):
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key=self._key(provider),
                UpdateExpression="SET penalty_factor = :factor, penalty_until = :until",
                ExpressionAttributeValues={
                    ":factor": {"N": repr(factor)},
                    ":until": {"N": repr(self.clock() + seconds)},
                },
            )
