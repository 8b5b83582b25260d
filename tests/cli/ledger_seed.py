"""Opt-outs written to a ledger table as the relay writes them (issue 11's contract): target
items (a progress item for retries, an outcome item per final answer) and, for a
fan-out, a summary item; every item carries received_at, deadline_at, received_day and
received_key; outcome items carry settled_at and evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from optout_relay.domain.deadline import deadline_at, within_deadline
from optout_relay.domain.timestamps import iso_utc, parse_utc

RECEIVED_DAY_INDEX = "by-received-day"
FINAL = {
    "unsubscribed": "#unsubscribed",
    "not_subscribed": "#not_subscribed",
    "rejected": "#final",
    "failed": "#final",
}
_serializer = TypeSerializer()


@dataclass(frozen=True)
class SeedTarget:
    name: str  # <account>#<list>
    provider: str
    status: str  # retrying: a progress item only
    settled_at: str | None = None
    retries: int = 0  # retrying steps before the outcome (attempts on the progress item)
    attempts: int = 1  # calls counted on the outcome item
    error_code: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def list_field(self) -> str:
        return "list_id" if self.provider == "tatango" else "list_number"


@dataclass(frozen=True)
class SeedOptOut:
    phone: str
    event_id: str
    received_at: str
    targets: tuple[SeedTarget, ...]
    scope: str | None = None  # a fan-out's scope (it gets a summary item); None: single target


def ensure_received_day_index(dynamodb: Any, table_name: str) -> None:
    """The GSI of the contract, unless the stack already has it (template.yaml will)."""
    table = dynamodb.describe_table(TableName=table_name)["Table"]
    if any(index["IndexName"] == RECEIVED_DAY_INDEX for index in table.get("GlobalSecondaryIndexes", [])):
        return
    dynamodb.update_table(
        TableName=table_name,
        AttributeDefinitions=[
            {"AttributeName": "received_day", "AttributeType": "S"},
            {"AttributeName": "received_key", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexUpdates=[{"Create": index_definition()}],
    )


def index_definition() -> dict[str, Any]:
    return {
        "IndexName": RECEIVED_DAY_INDEX,
        "KeySchema": [
            {"AttributeName": "received_day", "KeyType": "HASH"},
            {"AttributeName": "received_key", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def seed(dynamodb: Any, table_name: str, opt_outs: tuple[SeedOptOut, ...]) -> None:
    for opt_out in opt_outs:
        for item in items_of(opt_out):
            dynamodb.put_item(
                TableName=table_name, Item={k: _serializer.serialize(v) for k, v in item.items()}
            )


def items_of(opt_out: SeedOptOut) -> list[dict[str, Any]]:
    items = [item for target in opt_out.targets for item in _target_items(opt_out, target)]
    if opt_out.scope is not None:
        items.append(_summary(opt_out))
    return [{**item, **_received(opt_out, item["target"])} for item in items]


def _received(opt_out: SeedOptOut, sort_key: str) -> dict[str, Any]:
    received = parse_utc(opt_out.received_at)
    return {
        "received_at": iso_utc(received),
        "deadline_at": iso_utc(deadline_at(received)),
        "received_day": received.date().isoformat(),
        "received_key": f"{iso_utc(received)}#{opt_out.phone}#{sort_key}",
    }


def _target_items(opt_out: SeedOptOut, target: SeedTarget) -> list[dict[str, Any]]:
    key = f"{target.name}#{opt_out.event_id}"
    account, _, list_value = target.name.partition("#")
    common: dict[str, Any] = {
        "phone_number": opt_out.phone,
        "target_key": key,
        "event_id": opt_out.event_id,
        "provider": target.provider,
        "account": account,
        target.list_field: int(list_value) if target.list_field == "list_id" else list_value,
        "first_seen_at": opt_out.received_at,
    }
    items = []
    if target.retries or target.status == "retrying":
        progress = {"target": key, "status": "retrying", "attempts": target.retries or target.attempts}
        items.append({**common, **progress, "error_code": target.error_code or "rate_limited"})
    if target.status in FINAL:
        outcome = {
            "target": key + FINAL[target.status],
            "status": target.status,
            "attempts": target.attempts,
            "processed_at": target.settled_at,
            "settled_at": target.settled_at,
            "evidence": target.evidence,
        }
        if target.error_code and target.status in ("rejected", "failed"):
            outcome["error_code"] = target.error_code
        items.append({**common, **outcome})
    return items


def _summary(opt_out: SeedOptOut) -> dict[str, Any]:
    settled = [t.settled_at for t in opt_out.targets if t.status in FINAL and t.settled_at]
    summary: dict[str, Any] = {
        "phone_number": opt_out.phone,
        "target": f"~summary#{opt_out.event_id}",
        "kind": "summary",
        "event_id": opt_out.event_id,
        "scope": opt_out.scope,
        "document_version": 1,
        "targets": len(opt_out.targets),
        "target_names": [target.name for target in opt_out.targets],
        "settled": len(settled),
    }
    if settled:
        summary["last_settled_at"] = max(settled)
    if len(settled) == len(opt_out.targets):
        deadline = deadline_at(parse_utc(opt_out.received_at))
        summary["completed_at"] = max(settled)
        summary["within_deadline"] = within_deadline(parse_utc(max(settled)), deadline)
    return summary
