"""The DynamoDB ledger: the only module that reads or writes the results table's outcomes.

Key schema: partition key ``phone_number`` (E.164), sort key ``target`` and its outcome
items (``ledger_items``), so "what happened to this number, everywhere" is one Query.

- Final outcomes (``unsubscribed``, ``not_subscribed``, ``rejected``, ``failed``) are
  whole items, each in a key of its own kind, put with ``BatchWriteItem``: the record
  workers share those round trips through a group commit. A put needs no condition,
  because no other kind of outcome is ever written to its key.
- ``retrying`` steps are a conditional UpdateItem of the progress item that adds to its
  ``attempts``. Each write carries its own id (``last_write``): a write retried after a
  timeout that had in fact taken effect is recognised and not counted twice.
- Reading a target's status reads all its keys in one consistent BatchGetItem (with
  those of the rest of the batch) and takes the strongest.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optout_relay.aws.clients import LazyClient
from optout_relay.aws.errors import aws_call, error_code, transient_from
from optout_relay.aws.group_commit import GroupCommit
from optout_relay.aws.ledger_items import (
    FINAL,
    PARTITION_KEY,
    RECEIVED_DAY,
    RECEIVED_KEY,
    SORT_KEY,
    TARGET_KEY,
    TTL_ATTRIBUTE,
    item_key,
    keys_of,
    strength,
    summary_key,
)
from optout_relay.domain.deadline import within_deadline
from optout_relay.domain.evidence import Evidence
from optout_relay.domain.model import FanOutSummary, LedgerEntry, Status, Timeline
from optout_relay.domain.timestamps import iso_utc, parse_utc
from optout_relay.errors import TransientError

__all__ = ["PARTITION_KEY", "SORT_KEY", "TTL_ATTRIBUTE", "DynamoLedger", "iso_utc"]

# Cleared when a later step has no value for them (a success after a retry has no error).
_CLEARABLE = ("http_status", "error_code", "error_message")
_BATCH_READ_LIMIT = 100
_BATCH_WRITE_LIMIT = 25
_BATCH_TRIES = 5
_BATCH_BACKOFF_SECONDS = 0.025
Key = tuple[str, str]


class DynamoLedger:
    dynamodb = LazyClient("dynamodb")

    def __init__(self, table_name: str, dynamodb: Any = None, retention_days: int = 0) -> None:
        self.table_name = table_name
        self.retention_days = retention_days
        self._dynamodb = dynamodb
        self._batched = GroupCommit(self._put_batch, max_group=_BATCH_WRITE_LIMIT)

    def statuses(self, keys: list[Key]) -> dict[Key, Status | None]:
        """The strongest status recorded for each (phone, target), ``None`` where none:
        strongly consistent, every item of every target, 100 item keys a round trip."""
        strongest: dict[Key, Status | None] = dict.fromkeys(keys)
        item_keys = [(phone, key) for phone, target in strongest for key in keys_of(target)]
        for start in range(0, len(item_keys), _BATCH_READ_LIMIT):
            for item in self._read(item_keys[start : start + _BATCH_READ_LIMIT]):
                if "status" not in item:
                    continue
                status = Status(item["status"]["S"])
                target = item.get(TARGET_KEY, item[SORT_KEY])["S"]
                key = (item[PARTITION_KEY]["S"], target)
                if key in strongest and strength(status) > strength(strongest[key]):
                    strongest[key] = status
        return strongest

    def document_versions(self, keys: list[Key]) -> dict[Key, int]:
        """The targets document version each (phone, event_id) fan-out started with."""
        item_keys = [(phone, summary_key(event_id)) for phone, event_id in keys]
        versions: dict[Key, int] = {}
        for start in range(0, len(item_keys), _BATCH_READ_LIMIT):
            for item in self._read(item_keys[start : start + _BATCH_READ_LIMIT], summaries=True):
                if "document_version" in item and "event_id" in item:
                    key = (item[PARTITION_KEY]["S"], item["event_id"]["S"])
                    versions[key] = int(item["document_version"]["N"])
        return versions

    def unsubscribed_near(
        self, phone_number: str, provider: str, list_value: str, moment: str, seconds: float
    ) -> str | None:
        """One Query of the number's partition, the provider's unsubscribed outcomes only."""
        center = parse_utc(moment)
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :phone",
            "FilterExpression": "#status = :unsubscribed AND #provider = :provider",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#status": "status", "#provider": "provider"},
            "ExpressionAttributeValues": {
                ":phone": {"S": phone_number},
                ":unsubscribed": {"S": Status.UNSUBSCRIBED.value},
                ":provider": {"S": provider},
            },
            "ConsistentRead": True,
        }
        while True:
            with aws_call("DynamoDB Query"):
                response = self.dynamodb.query(**request)
            for item in response.get("Items", []):
                listed = item.get("list_number", item.get("list_id", {}))
                settled = item.get("settled_at", item.get("processed_at", {})).get("S")
                if next(iter(listed.values()), None) != list_value or not settled:
                    continue
                if abs((parse_utc(settled) - center).total_seconds()) <= seconds:
                    return str(item["event_id"]["S"])
            if "LastEvaluatedKey" not in response:
                return None
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def record_echo(self, phone_number: str, event_id: str, echo_of: str, origin: str) -> None:
        now = iso_utc(datetime.now(UTC))
        item = {
            PARTITION_KEY: {"S": phone_number},
            SORT_KEY: {"S": f"~echo#{event_id}"},
            "kind": {"S": "echo"},
            "event_id": {"S": event_id},
            "echo_of": {"S": echo_of},
            "origin": {"S": origin},
            "processed_at": {"S": now},
            "last_write": {"S": uuid.uuid4().hex},
        }
        self._batched.submit(item)

    def record_summary(self, summary: FanOutSummary) -> None:
        now = iso_utc(datetime.now(UTC))
        values: dict[str, Any] = {
            "kind": "summary",
            "event_id": summary.event_id,
            "scope": summary.scope,
            "document_version": summary.document_version,
            "targets": len(summary.target_names),
            "settled": summary.settled,
            "last_settled_at": summary.last_settled_at,
            "occurred_at": summary.occurred_at,
            "source": summary.source,
            "processed_at": now,
            "last_write": uuid.uuid4().hex,
        }
        item: dict[str, Any] = {
            name: _attribute(value) for name, value in values.items() if value is not None
        }
        item["target_names"] = {"L": [{"S": name} for name in summary.target_names]}
        item[PARTITION_KEY] = {"S": summary.phone_number}
        item[SORT_KEY] = {"S": summary_key(summary.event_id)}
        if summary.timeline is not None:
            received = received_attributes(
                summary.timeline, summary.phone_number, summary_key(summary.event_id)
            )
            item.update({name: {"S": value} for name, value in received.items()})
            if summary.complete:
                item.update(completion(summary.last_settled_at or now, summary.timeline))
        elif summary.complete:
            item["completed_at"] = {"S": summary.last_settled_at or now}
        if self.retention_days:
            expires = int(datetime.now(UTC).timestamp()) + self.retention_days * 86_400
            item[TTL_ATTRIBUTE] = {"N": str(expires)}
        self._batched.submit(item)

    def _read(self, item_keys: list[Key], *, summaries: bool = False) -> list[dict[str, Any]]:
        wanted = ("event_id", "document_version") if summaries else (TARGET_KEY, "status")
        names = {"#pk": PARTITION_KEY, "#sk": SORT_KEY, "#a0": wanted[0], "#a1": wanted[1]}
        pending: dict[str, Any] = {
            self.table_name: {
                "Keys": [{PARTITION_KEY: {"S": p}, SORT_KEY: {"S": s}} for p, s in item_keys],
                "ConsistentRead": True,
                "ProjectionExpression": "#pk, #sk, #a0, #a1",
                "ExpressionAttributeNames": names,
            }
        }
        items: list[dict[str, Any]] = []
        for attempt in range(_BATCH_TRIES):  # unprocessed keys come back under load
            if attempt:
                time.sleep(_BATCH_BACKOFF_SECONDS * 2**attempt)
            with aws_call("DynamoDB BatchGetItem"):
                response = self.dynamodb.batch_get_item(RequestItems=pending)
            items.extend(response.get("Responses", {}).get(self.table_name, []))
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                return items
        raise TransientError("aws_throttled", "DynamoDB BatchGetItem left keys unprocessed")

    def record(self, entry: LedgerEntry) -> bool:
        values = self._values(entry, datetime.now(UTC))
        if entry.status in FINAL:
            self._batched.submit(self._item(entry, values))
            return True
        return self._update(entry, values)

    def record_all(self, entries: Sequence[LedgerEntry]) -> list[TransientError | None]:
        """Final outcomes in one group-commit submission; other steps one by one."""
        moment = datetime.now(UTC)
        final = [index for index, entry in enumerate(entries) if entry.status in FINAL]
        items = [self._item(entries[i], self._values(entries[i], moment)) for i in final]
        results: list[TransientError | None] = [None] * len(entries)
        for index, error in zip(final, self._batched.submit_all(items), strict=True):
            if error is not None and not isinstance(error, TransientError):
                raise error
            results[index] = error
        for index, entry in enumerate(entries):
            if entry.status not in FINAL:
                try:
                    self._update(entry, self._values(entry, moment))
                except TransientError as error:
                    results[index] = error
        return results

    def _values(self, entry: LedgerEntry, moment: datetime) -> dict[str, Any]:
        """The attributes one step sets; ``None`` for the ones it clears."""
        values: dict[str, Any] = {
            TARGET_KEY: entry.target,
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
        if entry.account:
            values["account"] = entry.account
        if entry.timeline is not None:
            values.update(received_attributes(entry.timeline, entry.phone_number, _sort_key(entry)))
        if self.retention_days:
            # DynamoDB's TTL deletes the item after this epoch second (LEDGER_RETENTION_DAYS).
            values[TTL_ATTRIBUTE] = int(moment.timestamp()) + self.retention_days * 86_400
        return values

    def _item(self, entry: LedgerEntry, values: dict[str, Any]) -> dict[str, Any]:
        item = {name: _attribute(value) for name, value in values.items() if value is not None}
        item[PARTITION_KEY] = {"S": entry.phone_number}
        item[SORT_KEY] = {"S": item_key(entry.target, entry.status)}
        item["first_seen_at"] = {"S": values["processed_at"]}
        item["attempts"] = {"N": str(entry.attempts_added)}
        item["settled_at"] = {"S": values["processed_at"]}
        if entry.completes_opt_out and entry.timeline is not None:
            item.update(completion(values["processed_at"], entry.timeline))
        if entry.evidence:
            item["evidence"] = _evidence_attribute(entry.evidence)
        return item

    def _put_batch(self, items: Sequence[dict[str, Any]]) -> list[Exception | None]:
        """One BatchWriteItem per group of final outcomes (at most 25, DynamoDB's limit)."""
        by_key: dict[Key, dict[str, Any]] = {}
        for item in items:  # one key twice in a group (two deliveries): one item, both counts
            kept = by_key.get(_key_of(item))
            by_key[_key_of(item)] = item if kept is None else _combined(kept, item)
        pending: dict[str, Any] = {
            self.table_name: [{"PutRequest": {"Item": item}} for item in by_key.values()]
        }
        for attempt in range(_BATCH_TRIES):
            if attempt:
                time.sleep(_BATCH_BACKOFF_SECONDS * 2**attempt)
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
        """One conditional UpdateItem of the progress item: adds to ``attempts``, applies a
        write once, and leaves an item written before the outcome layout with a success alone."""
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
                ":unsubscribed": {"S": Status.UNSUBSCRIBED.value},
                ":not_subscribed": {"S": Status.NOT_SUBSCRIBED.value},
                ":write": {"S": entry.write_id},
            }
        )
        sets.append("#first = if_not_exists(#first, :now)")
        sets.append("#attempts = if_not_exists(#attempts, :zero) + :calls")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={PARTITION_KEY: {"S": entry.phone_number}, SORT_KEY: {"S": entry.target}},
                UpdateExpression=expression,
                ConditionExpression=(
                    "(attribute_not_exists(#pk) OR NOT (#status IN (:unsubscribed, :not_subscribed)))"
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


def _sort_key(entry: LedgerEntry) -> str:
    return item_key(entry.target, entry.status) if entry.status in FINAL else entry.target


def received_attributes(timeline: Timeline, phone_number: str, sort_key: str) -> dict[str, str]:
    """What the ``by-received-day`` index reads an opt-out's items by: one Query per day."""
    return {
        "received_at": timeline.received_at,
        "deadline_at": timeline.deadline_at,
        RECEIVED_DAY: timeline.received_at[:10],
        RECEIVED_KEY: f"{timeline.received_at}#{phone_number}#{sort_key}",
    }


def completion(completed_at: str, timeline: Timeline) -> dict[str, Any]:
    on_time = within_deadline(parse_utc(completed_at), parse_utc(timeline.deadline_at))
    return {"completed_at": {"S": completed_at}, "within_deadline": {"BOOL": on_time}}


def _combined(kept: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    if kept["last_write"] == item["last_write"] or "attempts" not in item:
        return item
    attempts = int(kept["attempts"]["N"]) + int(item["attempts"]["N"])
    return {**item, "attempts": {"N": str(attempts)}}


def _key_of(item: dict[str, Any]) -> Key:
    return item[PARTITION_KEY]["S"], item[SORT_KEY]["S"]


def _evidence_attribute(evidence: Evidence) -> dict[str, Any]:
    """The provider's evidence as a map: N, S or BOOL values, as ``domain.evidence`` types them."""
    values = {
        name: {"BOOL": value} if isinstance(value, bool) else _attribute(value)
        for name, value in evidence.items()
    }
    return {"M": values}


def _attribute(value: Any) -> dict[str, str]:
    if isinstance(value, bool):
        raise TypeError("booleans are not stored in the ledger")
    if isinstance(value, int | float):
        return {"N": str(value)}
    return {"S": str(value)}
