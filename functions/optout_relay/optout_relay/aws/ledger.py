"""The DynamoDB ledger: the only module that reads or writes the results table.

Key schema: partition key ``phone_number`` (E.164), sort key ``target``
(``provider#list#event_id``), so "what happened to this number, everywhere" is
one Query. One item per (event, provider target), updated in place.

Writes come in two kinds:

- ``unsubscribed`` outcomes of keys the batch read consistently before its provider
  calls (``settled_statuses``) are whole items written with BatchWriteItem, shared by
  the record workers through a group commit: one round trip for many records.
  ``attempts`` and ``first_seen_at`` carry on from what the read found.
- Everything else (``not_subscribed``, retrying, failed, rejected, and keys the batch
  did not read) is a conditional UpdateItem that adds to ``attempts`` and never
  overwrites a success (``unsubscribed`` may replace ``not_subscribed``). Each write
  carries its own id (``last_write``): when a write is retried after a timeout that had
  in fact taken effect, the condition recognises it and attempts are not added twice.

BatchWriteItem takes no condition, and needs none for what it writes: the provider
really removed the number, and that outcome may replace any other. A concurrent
duplicate delivery of the same event is answered ``not_subscribed`` by the provider,
and its conditional write then leaves the ``unsubscribed`` in place, whichever lands
first. What the unconditional write gives up: if another delivery writes between this
batch's read and its write, the attempt count is this delivery's, not the sum of both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optout_relay.aws.clients import LazyClient
from optout_relay.aws.errors import aws_call, error_code, transient_from
from optout_relay.aws.group_commit import GroupCommit
from optout_relay.domain.model import LedgerEntry, Status
from optout_relay.domain.timestamps import iso_utc
from optout_relay.errors import TransientError

PARTITION_KEY = "phone_number"
SORT_KEY = "target"
TTL_ATTRIBUTE = "expires_at"
_SETTLED = (Status.UNSUBSCRIBED.value, Status.NOT_SUBSCRIBED.value)
# Cleared when a later step has no value for them (a success after a retry has no error).
_CLEARABLE = ("http_status", "error_code", "error_message")
_BATCH_WRITE_LIMIT = 25
_BATCH_WRITE_TRIES = 5
_BATCH_WRITE_BACKOFF_SECONDS = 0.025


@dataclass(frozen=True)
class _Known:
    """An item's history as this invocation knows it: read by the batch, then written by it."""

    attempts: int = 0
    first_seen_at: str | None = None

    @classmethod
    def read(cls, item: dict[str, Any]) -> _Known:
        return cls(int(item.get("attempts", {}).get("N", "0")), item.get("first_seen_at", {}).get("S"))

    def after(self, calls: int, now: str) -> _Known:
        return _Known(self.attempts + calls, self.first_seen_at or now)


class DynamoLedger:
    dynamodb = LazyClient("dynamodb")

    def __init__(self, table_name: str, dynamodb: Any = None, retention_days: int = 0) -> None:
        self.table_name = table_name
        self.retention_days = retention_days
        self._dynamodb = dynamodb
        self._known: dict[tuple[str, str], _Known] = {}
        # A write retried (same write id) carries the history it was first given, once.
        self._counted: dict[str, _Known] = {}
        self._read_lock = threading.Lock()
        self._batched = GroupCommit(self._put_batch, max_group=_BATCH_WRITE_LIMIT)

    def settled_status(self, phone_number: str, target: str) -> Status | None:
        # Strongly consistent: a success written by an earlier delivery is always seen.
        with aws_call("DynamoDB GetItem"):
            response = self.dynamodb.get_item(
                TableName=self.table_name,
                Key={PARTITION_KEY: {"S": phone_number}, SORT_KEY: {"S": target}},
                ConsistentRead=True,
                ProjectionExpression="#status",
                ExpressionAttributeNames={"#status": "status"},
            )
        status = response.get("Item", {}).get("status", {}).get("S")
        return Status(status) if status in _SETTLED else None

    def settled_statuses(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Status | None]:
        """One strongly consistent BatchGetItem per 100 keys instead of a GetItem per record.

        Also remembers what it read, for the settled outcomes of these keys to be written
        in batches (see the module's docstring). Each call starts afresh: one per batch.
        """
        with self._read_lock:
            self._known = {}  # until this read succeeds, nothing is known: writes are conditional
            self._counted = {}
        found: dict[tuple[str, str], Status | None] = dict.fromkeys(keys)
        known: dict[tuple[str, str], _Known] = {}
        unique = list(found)
        for start in range(0, len(unique), 100):
            pending: dict[str, Any] = {
                self.table_name: {
                    "Keys": [
                        {PARTITION_KEY: {"S": p}, SORT_KEY: {"S": t}} for p, t in unique[start : start + 100]
                    ],
                    "ConsistentRead": True,
                    "ProjectionExpression": "#pk, #sk, #status, #attempts, #first",
                    "ExpressionAttributeNames": {
                        "#pk": PARTITION_KEY,
                        "#sk": SORT_KEY,
                        "#status": "status",
                        "#attempts": "attempts",
                        "#first": "first_seen_at",
                    },
                }
            }
            for _ in range(5):  # unprocessed keys come back under load; boto3 retries throttling itself
                with aws_call("DynamoDB BatchGetItem"):
                    response = self.dynamodb.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    status = item.get("status", {}).get("S")
                    key = (item[PARTITION_KEY]["S"], item[SORT_KEY]["S"])
                    found[key] = Status(status) if status in _SETTLED else None
                    known[key] = _Known.read(item)
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
            else:
                for key in pending[self.table_name]["Keys"]:
                    found.pop((key[PARTITION_KEY]["S"], key[SORT_KEY]["S"]), None)  # read per record instead
        for key in found:
            known.setdefault(key, _Known())  # read, and not there
        with self._read_lock:
            self._known = known
        return found

    def record(self, entry: LedgerEntry) -> bool:
        moment = datetime.now(UTC)
        values = self._values(entry, moment)
        key = (entry.phone_number, entry.target)
        if entry.status is Status.UNSUBSCRIBED:
            with self._read_lock:
                before = self._known.get(key)
                if before is not None and entry.write_id in self._counted:
                    before = self._counted[entry.write_id]
                elif before is not None:
                    before = self._known[key] = before.after(entry.attempts_added, values["processed_at"])
                    self._counted[entry.write_id] = before
            if before is not None:
                self._batched.submit(self._item(entry, values, before))
                return True
        written = self._update(entry, values)
        if written:
            with self._read_lock:
                if key in self._known:
                    self._known[key] = self._known[key].after(entry.attempts_added, values["processed_at"])
        return written

    def _values(self, entry: LedgerEntry, moment: datetime) -> dict[str, Any]:
        """The attributes one step sets; ``None`` for the ones it clears."""
        values: dict[str, Any] = {
            "event_id": entry.event_id,
            "provider": entry.provider,
            "status": entry.status.value,
            "message_id": entry.message_id,
            "receive_count": entry.receive_count,
            "processed_at": iso_utc(moment),
            "last_write": entry.write_id,
            "http_status": entry.http_status,
            "error_code": entry.error_code,
            "error_message": entry.error_message,
        }
        if entry.list_field and entry.list_value is not None:
            values[entry.list_field] = (
                int(entry.list_value) if entry.list_field == "list_id" else entry.list_value
            )
        if entry.occurred_at:
            values["occurred_at"] = entry.occurred_at
        if entry.source:
            values["source"] = entry.source
        if self.retention_days:
            # DynamoDB's TTL deletes the item after this epoch second (LEDGER_RETENTION_DAYS).
            values[TTL_ATTRIBUTE] = int(moment.timestamp()) + self.retention_days * 86_400
        return values

    def _item(self, entry: LedgerEntry, values: dict[str, Any], before: _Known) -> dict[str, Any]:
        item = {name: _attribute(value) for name, value in values.items() if value is not None}
        item[PARTITION_KEY] = {"S": entry.phone_number}
        item[SORT_KEY] = {"S": entry.target}
        item["first_seen_at"] = {"S": before.first_seen_at or values["processed_at"]}
        item["attempts"] = {"N": str(before.attempts)}
        return item

    def _put_batch(self, items: Sequence[dict[str, Any]]) -> list[Exception | None]:
        """One BatchWriteItem per group of settled outcomes (at most 25, DynamoDB's limit)."""
        # Two records of one event in a batch: the write that carries both steps' attempts.
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for item in items:
            kept = latest.get(_key_of(item))
            if kept is None or int(item["attempts"]["N"]) >= int(kept["attempts"]["N"]):
                latest[_key_of(item)] = item
        pending: dict[str, Any] = {
            self.table_name: [{"PutRequest": {"Item": item}} for item in latest.values()]
        }
        for attempt in range(_BATCH_WRITE_TRIES):
            if attempt:
                time.sleep(_BATCH_WRITE_BACKOFF_SECONDS * 2**attempt)
            try:
                response = self.dynamodb.batch_write_item(RequestItems=pending)
            except (ClientError, BotoCoreError) as error:
                failure = transient_from("DynamoDB BatchWriteItem", error)
                return [failure] * len(items)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return [None] * len(items)
        unwritten = {_key_of(request["PutRequest"]["Item"]) for request in pending[self.table_name]}
        failure = TransientError("aws_throttled", "DynamoDB BatchWriteItem left items unprocessed")
        return [failure if _key_of(item) in unwritten else None for item in items]

    def _update(self, entry: LedgerEntry, values: dict[str, Any]) -> bool:
        """One conditional UpdateItem: adds to ``attempts`` and never overwrites a success."""
        names: dict[str, str] = {"#pk": PARTITION_KEY}
        attribute_values: dict[str, Any] = {}
        sets, removes = [], []
        for index, (name, value) in enumerate(values.items()):
            names[f"#a{index}"] = name
            if value is None:
                if name in _CLEARABLE:
                    removes.append(f"#a{index}")
                continue
            attribute_values[f":v{index}"] = _attribute(value)
            sets.append(f"#a{index} = :v{index}")
        names.update({"#first": "first_seen_at", "#attempts": "attempts", "#status": "status"})
        names["#last"] = "last_write"
        attribute_values.update(
            {
                ":now": {"S": values["processed_at"]},
                ":calls": {"N": str(entry.attempts_added)},
                ":zero": {"N": "0"},
                ":unsubscribed": {"S": _SETTLED[0]},
                ":write": {"S": entry.write_id},
            }
        )
        if entry.status is Status.UNSUBSCRIBED:
            not_settled = "#status <> :unsubscribed"  # the provider's removal outranks "not subscribed"
        else:
            attribute_values[":not_subscribed"] = {"S": _SETTLED[1]}
            not_settled = "NOT (#status IN (:unsubscribed, :not_subscribed))"
        sets.append("#first = if_not_exists(#first, :now)")
        sets.append("#attempts = if_not_exists(#attempts, :zero) + :calls")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={PARTITION_KEY: {"S": entry.phone_number}, SORT_KEY: {"S": entry.target}},
                UpdateExpression=expression,
                ConditionExpression=(
                    f"(attribute_not_exists(#pk) OR {not_settled})"
                    " AND (attribute_not_exists(#last) OR #last <> :write)"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attribute_values,
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise transient_from("DynamoDB UpdateItem", error) from None
        except BotoCoreError as error:
            raise transient_from("DynamoDB UpdateItem", error) from None
        return True


def _key_of(item: dict[str, Any]) -> tuple[str, str]:
    return item[PARTITION_KEY]["S"], item[SORT_KEY]["S"]


def _attribute(value: Any) -> dict[str, str]:
    if isinstance(value, bool):
        raise TypeError("booleans are not stored in the ledger")
    if isinstance(value, int | float):
        return {"N": str(value)}
    return {"S": str(value)}
