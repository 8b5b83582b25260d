"""Reads the ledger (a Query by phone number, never a Scan) and shows one row per target:
a target's items (progress, answers, final outcome) read as one (``ledger_items``). A
fan-out event also has one summary item in the partition (``kind`` = ``summary``), which
``merge_items`` leaves out: ``query_partition`` returns it with the rest."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from optout_relay.aws.ledger_items import PARTITION_KEY, SORT_KEY, keys_of, merge_items
from optout_relay.aws.opt_out_index import plain_item
from rich import box
from rich.table import Table
from rich.text import Text

SETTLED = ("unsubscribed", "not_subscribed")
STATUS_STYLE = {
    "unsubscribed": "green",
    "not_subscribed": "green",
    "rejected": "red",
    "failed": "red",
    "retrying": "yellow",
}


def item_from_dynamodb(item: dict[str, Any]) -> dict[str, Any]:
    return plain_item(item)


def query_phone(dynamodb: Any, table_name: str, e164: str) -> list[dict[str, Any]]:
    """Every target of one phone number, across providers, lists and events (one row each)."""
    return merge_items(query_partition(dynamodb, table_name, e164))


def query_partition(dynamodb: Any, table_name: str, e164: str) -> list[dict[str, Any]]:
    """Every item of one phone number's partition, as stored (target items and summaries)."""
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": table_name,
        "KeyConditionExpression": "#pk = :phone",
        "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
        "ExpressionAttributeValues": {":phone": {"S": e164}},
        "ConsistentRead": True,
    }
    while True:
        response = dynamodb.query(**request)
        items.extend(item_from_dynamodb(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def get_item(dynamodb: Any, table_name: str, e164: str, target: str) -> dict[str, Any] | None:
    response = dynamodb.get_item(
        TableName=table_name,
        Key={PARTITION_KEY: {"S": e164}, SORT_KEY: {"S": target}},
        ConsistentRead=True,
    )
    item = response.get("Item")
    return item_from_dynamodb(item) if item else None


def get_items(
    dynamodb: Any, table_name: str, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The row of each of these (phone_number, target) keys (BatchGetItem, 100 item keys at a time)."""
    targets = sorted(set(keys))
    wanted = {(phone, key) for phone, target in targets for key in keys_of(target)}
    raw = get_raw_items(dynamodb, table_name, wanted)
    return {(str(row[PARTITION_KEY]), str(row[SORT_KEY])): row for row in merge_items(raw)}


def get_raw_items(dynamodb: Any, table_name: str, keys: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """The items stored under these exact (phone_number, sort key) keys, as stored."""
    wanted = sorted(set(keys))
    raw: list[dict[str, Any]] = []
    for start in range(0, len(wanted), 100):
        request: dict[str, Any] = {
            table_name: {
                "Keys": [
                    {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}} for pk, sk in wanted[start : start + 100]
                ],
                "ConsistentRead": True,
            }
        }
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            raw.extend(item_from_dynamodb(item) for item in response.get("Responses", {}).get(table_name, []))
            request = response.get("UnprocessedKeys") or {}
    return raw


def is_summary(item: dict[str, Any]) -> bool:
    return item.get("kind") == "summary"


def account_of(row: dict[str, Any]) -> str:
    """A row's account; rows written before accounts existed are the provider's default
    account, whose id is the provider's name."""
    return str(row.get("account") or row.get("provider") or "?")


def list_value(item: dict[str, Any]) -> str:
    value = item.get("list_number", item.get("list_id"))
    return "-" if value is None else str(value)


def error_text(item: dict[str, Any], width: int = 120) -> str:
    code, message = item.get("error_code"), item.get("error_message")
    if not code and not message:
        return ""
    text = f"{code}: {message}" if code and message else str(code or message)
    return text if len(text) <= width else text[: width - 1] + "…"


def evidence_text(item: dict[str, Any]) -> str:
    """The provider's own confirmation, compact: its ``Date``, Tatango's opt-out time, the
    request id (``--json`` shows the whole ``evidence`` map)."""
    evidence = item.get("evidence")
    if not isinstance(evidence, dict):
        return ""
    parts = []
    if evidence.get("provider_date"):
        parts.append(f"Date {short_time(evidence['provider_date'])}")
    if evidence.get("opted_out_at"):
        parts.append(f"opted out {short_time(evidence['opted_out_at'])}")
    if evidence.get("request_id"):
        parts.append(f"id {evidence['request_id']}")
    return " · ".join(parts)


def sort_key(item: dict[str, Any]) -> tuple[str, str]:
    return (str(item.get("occurred_at") or item.get("first_seen_at") or ""), str(item.get(SORT_KEY, "")))


def short_time(value: Any) -> str:
    """``2026-04-11T12:00:00.123Z`` as ``2026-04-11 12:00:00Z`` (``--json`` has it all)."""
    text = str(value or "")
    if len(text) >= 19 and text[10] == "T":
        return f"{text[:10]} {text[11:19]}Z"
    return text


def ledger_table(items: Sequence[dict[str, Any]], title: str | None = None) -> Table:
    """One row per item; two-line cells keep it readable in an 80-column terminal."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("account\nlist", no_wrap=True)
    table.add_column("event", overflow="fold", ratio=1)
    table.add_column("status\ntries · http", no_wrap=True)
    table.add_column("error\nevidence", overflow="fold", ratio=2)
    table.add_column("occurred_at\nprocessed_at", no_wrap=True)
    for item in sorted(items, key=sort_key):
        table.add_row(
            f"{account_of(item)}\n{list_value(item)}",
            str(item.get("event_id", "")),
            status_cell(item),
            "\n".join(text for text in (error_text(item), evidence_text(item)) if text),
            f"{short_time(item.get('occurred_at')) or '-'}\n{short_time(item.get('processed_at'))}",
        )
    return table


def status_cell(item: dict[str, Any]) -> Text:
    """``unsubscribed`` over ``2 tries · 200``."""
    status = str(item.get("status", "?"))
    attempts = item.get("attempts", 0)
    detail = f"{attempts} {'try' if attempts == 1 else 'tries'}"
    if item.get("http_status") is not None:
        detail += f" · {item['http_status']}"
    return Text.assemble((status, STATUS_STYLE.get(status, "")), "\n", (detail, "dim"))
