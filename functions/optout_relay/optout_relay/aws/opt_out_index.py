"""Reads the ledger by day of receipt: the results table's ``by-received-day`` index.

Every item of an opt-out carries ``received_day`` (UTC date of ``received_at``, the
index's partition key) and ``received_key`` (``<received_at>#<phone>#<sort key>``, its
sort key), so one day's opt-outs are ONE Query (paginated), never a Scan.
``group_opt_outs`` turns a day's (or several days') items into one ``OptOutRecord``
per opt-out. Both the deadline watcher and the audit report read through here.

AWS errors are not translated: a failed read fails the watcher's run (its missed-runs
alarm notices) or the CLI command (which shows it as one line).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from optout_relay.aws.clients import LazyClient
from optout_relay.aws.ledger_items import FINAL, PARTITION_KEY, SORT_KEY, merge_items, target_of
from optout_relay.domain.deadline import deadline_at
from optout_relay.domain.opt_out_record import OptOutRecord, TargetRecord
from optout_relay.domain.timestamps import parse_utc

INDEX_NAME = "by-received-day"
DAY_KEY = "received_day"  # the index's partition key: YYYY-MM-DD, UTC
ORDER_KEY = "received_key"  # its sort key: <received_at>#<phone_number>#<sort key>
SUMMARY_KIND = "summary"
_FINAL_STATUSES = frozenset(status.value for status in FINAL)
_deserializer = TypeDeserializer()


class OptOutIndex:
    dynamodb = LazyClient("dynamodb")

    def __init__(self, table_name: str, dynamodb: Any = None, page_size: int | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb
        self.page_size = page_size

    def items_received_on(self, day: date, attributes: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Every item of the opt-outs received on ``day`` (UTC), as plain dicts, in
        ``received_key`` order; ``attributes`` limits what each item brings back."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": INDEX_NAME,
            "KeyConditionExpression": "#day = :day",
            "ExpressionAttributeNames": {"#day": DAY_KEY},
            "ExpressionAttributeValues": {":day": {"S": day.isoformat()}},
        }
        if attributes:
            names = {f"#p{index}": name for index, name in enumerate(attributes)}
            request["ExpressionAttributeNames"].update(names)
            request["ProjectionExpression"] = ", ".join(names)
        if self.page_size:
            request["Limit"] = self.page_size
        items: list[dict[str, Any]] = []
        while True:
            response = self.dynamodb.query(**request)
            items.extend(plain_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def plain_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python: numbers as int (or float), sets as sorted lists."""
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(_plain(member) for member in value)
    if isinstance(value, list):
        return [_plain(member) for member in value]
    if isinstance(value, dict):
        return {key: _plain(member) for key, member in value.items()}
    return value


def is_summary(item: Mapping[str, Any]) -> bool:
    return item.get("kind") == SUMMARY_KIND or str(item.get(SORT_KEY, "")).startswith("~summary#")


def group_opt_outs(items: Iterable[Mapping[str, Any]]) -> list[OptOutRecord]:
    """One record per opt-out (phone number and event id), earliest received first."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for item in items:
        key = (str(item.get(PARTITION_KEY, "")), str(item.get("event_id", "")))
        groups.setdefault(key, []).append(item)
    records = [_record(phone, event_id, group) for (phone, event_id), group in groups.items()]
    return sorted(records, key=lambda record: (record.received_at, record.phone_number, record.event_id))


def _record(phone: str, event_id: str, items: list[Mapping[str, Any]]) -> OptOutRecord:
    summary = next((item for item in items if is_summary(item)), None)
    rows = {target_of(row): row for row in merge_items(item for item in items if not is_summary(item))}
    suffix = f"#{event_id}"
    named = [str(name) for name in summary.get("target_names") or []] if summary else []
    keys = [name + suffix for name in named]
    keys += [key for key in rows if key not in keys]  # no summary (or a target it does not name)
    targets = tuple(_target(key.removesuffix(suffix), rows.get(key)) for key in keys)
    received = parse_utc(min(_received_at(item) for item in items))
    deadlines = [str(item["deadline_at"]) for item in items if item.get("deadline_at")]
    return OptOutRecord(
        phone_number=phone,
        event_id=event_id,
        received_at=received,
        deadline_at=parse_utc(deadlines[0]) if deadlines else deadline_at(received),
        targets=targets,
        summary=dict(summary) if summary else None,
    )


def _target(name: str, row: Mapping[str, Any] | None) -> TargetRecord:
    if row is None:
        return TargetRecord(name=name, status=None, final=False)
    status = str(row.get("status", ""))
    error_code = row.get("error_code")
    return TargetRecord(
        name=name,
        status=status,
        final=status in _FINAL_STATUSES,
        error_code=str(error_code) if error_code else None,
        row=row,
    )


def _received_at(item: Mapping[str, Any]) -> str:
    return str(item.get("received_at") or str(item.get(ORDER_KEY, "")).split("#", 1)[0])
