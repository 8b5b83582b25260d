"""Fleet-wide request budgets, shared by every concurrent execution environment.

One item per provider in the results table (partition ``#rate-budget``, so no phone
number can collide with it and no extra table or permission is needed) holds the
slots of ``domain/rate_window.py`` as ``slot_0``, ``slot_1``, ..., the queue cursor
``next_turn`` and the penalty after a 429.

Claiming a slot is one conditional write on that slot alone, so environments taking
different slots never conflict and two never get the same one. Nothing is read first:
each environment keeps the item as its last write returned it (or, when the condition
failed, as the failure returned it). That copy can only show slots freer than they
are, so it answers "no budget" without a request, and a slot it wrongly shows free
fails the condition and brings the current item.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optout_relay.aws.clients import LazyClient
from optout_relay.aws.errors import aws_call, error_code, transient_from
from optout_relay.aws.ledger import PARTITION_KEY, SORT_KEY
from optout_relay.domain.rate_window import GRANT_LEAD, BudgetView, Claim, Full, plan, return_after

BUDGET_PARTITION = "#rate-budget"
_TRIES = 8


class DynamoRateBudget:
    dynamodb = LazyClient("dynamodb")

    def __init__(self, table_name: str, dynamodb: Any = None, clock: Callable[[], float] = time.time) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb
        self.clock = clock
        self._items: dict[str, dict[str, Any]] = {}
        # An environment's records claim one at a time: they do not race each other for
        # the slot their shared copy shows free, and a claim's write is not kept waiting.
        self._claiming = threading.Lock()

    def take(self, provider: str, rate_per_second: float, *, waited: bool = False) -> float:
        """``0.0``: one call may go now. Otherwise the whole seconds after which the record
        should come back: its turn behind the records already queued, or, for a record that
        ``waited`` before (its turn has come), one second."""
        for _ in range(_TRIES):
            with self._claiming:
                view = _view(self._item(provider))
                now = self.clock()
                decision = plan(view, now, rate_per_second, random.randrange(1 << 16))  # noqa: S311
                if isinstance(decision, Claim):
                    if not self._claim(provider, view, decision):
                        continue  # taken meanwhile; the failed write brought the current slots
                    return 0.0 if self._in_time(provider, decision) else 1.0
            if waited:
                return 1.0
            turn = self._queue(provider, view, decision)
            if turn is not None:
                return float(return_after(turn, now))
        return 1.0

    def shrink(self, provider: str, factor: float, seconds: float) -> None:
        """After a 429: run at ``factor`` of the rate for ``seconds``."""
        with aws_call("DynamoDB UpdateItem (rate budget)"):
            response = self.dynamodb.update_item(
                TableName=self.table_name,
                Key=self._key(provider),
                UpdateExpression="SET penalty_factor = :factor, penalty_until = :until",
                ExpressionAttributeValues={
                    ":factor": _number(factor),
                    ":until": _number(self.clock() + seconds),
                },
                ReturnValues="ALL_NEW",
            )
        self._items[provider] = response["Attributes"]

    def _key(self, provider: str) -> dict[str, Any]:
        return {PARTITION_KEY: {"S": BUDGET_PARTITION}, SORT_KEY: {"S": provider}}

    def _item(self, provider: str) -> dict[str, Any]:
        if provider not in self._items:
            with aws_call("DynamoDB GetItem (rate budget)"):
                self._items[provider] = self.dynamodb.get_item(
                    TableName=self.table_name, Key=self._key(provider), ConsistentRead=True
                ).get("Item", {})
        return self._items[provider]

    def _claim(self, provider: str, view: BudgetView, claim: Claim) -> bool:
        slots = (claim.slot, *claim.unused)
        names = {f"#s{slot}": f"slot_{slot}" for slot in slots}
        free = " AND ".join(f"(attribute_not_exists(#s{slot}) OR #s{slot} <= :free_up_to)" for slot in slots)
        values = {":deadline": _number(claim.deadline), ":free_up_to": _number(claim.free_up_to)}
        # The penalty must still be the one the claim was planned under.
        if view.penalty_until:
            penalty = "penalty_until = :until"
            values[":until"] = _number(view.penalty_until)
        else:
            penalty = "attribute_not_exists(penalty_until)"
        claimed = self._update(
            provider, f"SET #s{claim.slot} = :deadline", f"{free} AND {penalty}", names, values
        )
        return claimed is not None

    def _in_time(self, provider: str, claim: Claim) -> bool:
        """Whether the call can go by its slot's deadline. If the write came back too late,
        the slot, ours now, gets a later deadline rather than going unused for a window."""
        for _ in range(_TRIES):
            now = self.clock()
            if now <= claim.deadline:
                return True
            later = replace(claim, deadline=now + GRANT_LEAD)
            moved = self._update(
                provider,
                "SET #slot = :later",
                "#slot = :deadline",
                {"#slot": f"slot_{claim.slot}"},
                {":later": _number(later.deadline), ":deadline": _number(claim.deadline)},
            )
            if moved is None:
                return False
            claim = later
        return False

    def _queue(self, provider: str, view: BudgetView, full: Full) -> float | None:
        """This record's turn, after the records queued before it; ``None`` if the cursor
        was not where the view had it (the failure brought the current item: try again)."""
        if view.next_turn >= full.opening:
            moved = self._update(
                provider,
                "SET next_turn = next_turn + :spacing",
                "next_turn >= :opening",
                {},
                {":spacing": _number(full.spacing), ":opening": _number(full.opening)},
            )
            # From the item this write returned: the shared copy may be newer already.
            return _view(moved).next_turn - full.spacing if moved is not None else None
        moved = self._update(
            provider,
            "SET next_turn = :next",
            "attribute_not_exists(next_turn) OR next_turn < :opening",
            {},
            {":next": _number(full.opening + full.spacing), ":opening": _number(full.opening)},
        )
        return full.opening if moved is not None else None

    def _update(
        self, provider: str, update: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> dict[str, Any] | None:
        """One conditional write: the item after it, or ``None`` if the condition failed.
        Either way the item it returns becomes this environment's copy."""
        operation = "DynamoDB UpdateItem (rate budget)"
        try:
            response = self.dynamodb.update_item(
                TableName=self.table_name,
                Key=self._key(provider),
                UpdateExpression=update,
                ConditionExpression=condition,
                **({"ExpressionAttributeNames": names} if names else {}),
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                current = error.response.get("Item")
                self._items[provider] = current if isinstance(current, dict) else {}
                return None
            self._items.pop(provider, None)
            raise transient_from(operation, error) from None
        except BotoCoreError as error:
            self._items.pop(provider, None)
            raise transient_from(operation, error) from None
        item: dict[str, Any] = response["Attributes"]
        self._items[provider] = item
        return item


def _number(value: float) -> dict[str, str]:
    return {"N": repr(value)}


def _view(item: dict[str, Any]) -> BudgetView:
    deadlines = {
        int(name.removeprefix("slot_")): float(value["N"])
        for name, value in item.items()
        if name.startswith("slot_")
    }
    return BudgetView(
        deadlines=tuple(deadlines.get(slot, 0.0) for slot in range(max(deadlines, default=-1) + 1)),
        next_turn=float(item.get("next_turn", {}).get("N", "0")),
        penalty_factor=float(item.get("penalty_factor", {}).get("N", "1")),
        penalty_until=float(item.get("penalty_until", {}).get("N", "0")),
    )
