"""Ledger items as the relay writes them for fan-outs (issue 10's contract), for CLI tests
that must not depend on the relay: one row per target (``<account>#<list>#<event_id>``,
with ``account``) in the item layout of ``optout_relay.aws.ledger_items``, and one summary
item per fan-out event (``~summary#<event_id>``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from optout_relay.aws.ledger_items import PARTITION_KEY, SORT_KEY, TARGET_KEY, item_key
from optout_relay.domain.model import Status
from optout_relay.providers.registry import CONTRACTS

FINAL = ("unsubscribed", "not_subscribed", "rejected", "failed")
_serializer = TypeSerializer()


def target_row(
    phone: str,
    event_id: str,
    account: str,
    provider: str,
    list_value: str | int,
    status: str,
    *,
    attempts: int = 1,
    http_status: int | None = 200,
    error_code: str | None = None,
    error_message: str | None = None,
    processed_at: str = "2026-04-11T12:00:01Z",
    occurred_at: str | None = "2026-04-11T12:00:00Z",
) -> dict[str, Any]:
    target = f"{account}#{list_value}#{event_id}"
    row: dict[str, Any] = {
        PARTITION_KEY: phone,
        SORT_KEY: item_key(target, Status(status)),
        TARGET_KEY: target,
        "account": account,
        "provider": provider,
        CONTRACTS[provider].list_field: list_value,
        "event_id": event_id,
        "status": status,
        "attempts": attempts,
        "message_id": f"m-{event_id}",
        "receive_count": 1,
        "processed_at": processed_at,
        "first_seen_at": processed_at,
    }
    optional = {
        "http_status": http_status,
        "error_code": error_code,
        "error_message": error_message,
        "occurred_at": occurred_at,
    }
    row.update({name: value for name, value in optional.items() if value is not None})
    return row


def summary_item(
    phone: str,
    event_id: str,
    scope: str,
    names: Sequence[str],
    settled: int,
    *,
    document_version: int = 1,
    last_settled_at: str = "2026-04-11T12:00:02Z",
    occurred_at: str = "2026-04-11T12:00:00Z",
) -> dict[str, Any]:
    item: dict[str, Any] = {
        PARTITION_KEY: phone,
        SORT_KEY: f"~summary#{event_id}",
        "kind": "summary",
        "event_id": event_id,
        "scope": scope,
        "document_version": document_version,
        "targets": len(names),
        "settled": settled,
        "target_names": list(names),
        "occurred_at": occurred_at,
        "source": "stop-keyword",
        "processed_at": "2026-04-11T12:00:01Z",
    }
    if settled:
        item["last_settled_at"] = last_settled_at
    if settled == len(names):
        item["completed_at"] = last_settled_at
    return item


def put_items(dynamodb: Any, table_name: str, items: Iterable[dict[str, Any]]) -> None:
    for item in items:
        dynamodb.put_item(
            TableName=table_name, Item={name: _serializer.serialize(value) for name, value in item.items()}
        )
