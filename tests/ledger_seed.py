"""Ledger items of whole opt-outs, written as the issue 11 contract says the relay writes them.

Every item of an opt-out carries ``received_at``, ``deadline_at``, ``received_day`` and
``received_key``; a target owns a progress item (``<name>#<event_id>``, status
``retrying``) once it was retried, and an outcome item (``...#unsubscribed``,
``...#not_subscribed`` or ``...#final``) once final; a fan-out has a summary item
(``~summary#<event_id>``) naming its targets. For tests only: the relay writes its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from optout_relay.aws.ledger_items import summary_key
from optout_relay.domain.deadline import deadline_at
from optout_relay.domain.timestamps import iso_utc

FINAL_SUFFIX = {"unsubscribed": "#unsubscribed", "not_subscribed": "#not_subscribed"}
_serializer = TypeSerializer()


@dataclass(frozen=True)
class SeedTarget:
    """``<account>#<list>``; ``status`` None: nothing recorded yet (a fan-out target not tried)."""

    name: str
    status: str | None
    error_code: str | None = None
    # Retried before its final outcome: it also has a progress item (with its last error).
    retried: bool = False


def opt_out_items(
    phone: str,
    event_id: str,
    received_at: datetime,
    targets: Sequence[SeedTarget],
    *,
    fan_out: bool,
    settled_after: timedelta = timedelta(minutes=5),
) -> list[dict[str, Any]]:
    """The items of one opt-out, as plain dicts."""
    received = iso_utc(received_at)
    common = {
        "phone_number": phone,
        "event_id": event_id,
        "received_at": received,
        "deadline_at": iso_utc(deadline_at(received_at)),
        "received_day": received[:10],
    }
    settled_at = iso_utc(received_at + settled_after)
    items: list[dict[str, Any]] = []
    for target in targets:
        key = f"{target.name}#{event_id}"
        base = {**common, "target_key": key, "provider": target.name.split("-")[0]}
        if target.status == "retrying" or target.retried:
            progress = {**base, "target": key, "status": "retrying", "attempts": 2}
            if target.error_code:
                progress["error_code"] = target.error_code
            items.append(progress)
        if target.status not in (None, "retrying"):
            outcome = {**base, "target": key + FINAL_SUFFIX.get(target.status, "#final")}
            outcome.update(status=target.status, attempts=1, settled_at=settled_at, processed_at=settled_at)
            if target.status in ("rejected", "failed") and target.error_code:
                outcome["error_code"] = target.error_code
            items.append(outcome)
    if fan_out:
        settled = sum(1 for t in targets if t.status not in (None, "retrying"))
        summary = {**common, "target": summary_key(event_id), "kind": "summary", "scope": "everywhere"}
        summary.update(
            document_version=1,
            targets=len(targets),
            target_names=[t.name for t in targets],
            settled=settled,
        )
        if settled == len(targets):
            summary["completed_at"] = settled_at
        items.append(summary)
    for item in items:
        item["received_key"] = f"{received}#{phone}#{item['target']}"
    return items


def put_items(dynamodb: Any, table_name: str, items: Iterable[dict[str, Any]]) -> None:
    for item in items:
        dynamodb.put_item(
            TableName=table_name, Item={name: _serializer.serialize(value) for name, value in item.items()}
        )
