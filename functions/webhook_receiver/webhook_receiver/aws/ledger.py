"""The relay's ledger, read for the echo check: one Query on the number's partition.

The item layout is the relay's (``optout_relay/aws/ledger_items.py``; README, "Ledger"):
partition key ``phone_number``, every final outcome an item of its own with
``status``, ``provider``, ``list_id`` or ``list_number``, ``event_id``, ``settled_at``
and ``target_key`` (``<account>#<list>#<event_id>``). Only ``unsubscribed`` items of
the webhook's provider come back (a filter), so the answer stays small.
``tests/webhooks/test_ledger_contract.py`` reads items the relay's own code wrote.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from webhook_receiver.echo import SettledUnsubscribe
from webhook_receiver.errors import LedgerUnavailable

PARTITION_KEY = "phone_number"
UNSUBSCRIBED = "unsubscribed"
MAX_PAGES = 10  # a partition is one number's opt-outs: a second page is already rare
_ATTRIBUTES = ("target_key", "event_id", "provider", "status", "settled_at", "list_id", "list_number")


class LedgerReader:
    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self.table_name = table_name
        self.dynamodb = dynamodb

    def unsubscribed_at(self, phone_number: str, provider: str) -> list[SettledUnsubscribe]:
        names = {f"#a{i}": name for i, name in enumerate(_ATTRIBUTES)} | {"#pk": PARTITION_KEY}
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :phone",
            "FilterExpression": "#a3 = :unsubscribed AND #a2 = :provider",
            "ProjectionExpression": ", ".join(f"#a{i}" for i in range(len(_ATTRIBUTES))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {
                ":phone": {"S": phone_number},
                ":unsubscribed": {"S": UNSUBSCRIBED},
                ":provider": {"S": provider},
            },
            "ConsistentRead": True,
        }
        found: list[SettledUnsubscribe] = []
        for _ in range(MAX_PAGES):
            try:
                response = self.dynamodb.query(**request)
            except (ClientError, BotoCoreError) as error:
                raise LedgerUnavailable(f"DynamoDB Query failed ({type(error).__name__})") from None
            found.extend(outcome for item in response.get("Items", []) if (outcome := _outcome(item)))
            if not response.get("LastEvaluatedKey"):
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name) or {}
    found = value.get("S", value.get("N"))
    return str(found) if found is not None else None


def _outcome(item: dict[str, Any]) -> SettledUnsubscribe | None:
    provider, event_id, settled = _text(item, "provider"), _text(item, "event_id"), _text(item, "settled_at")
    list_key = _text(item, "list_id") or _text(item, "list_number")
    if list_key is None:  # the target key names the list: <account>#<list>#<event_id>
        parts = (_text(item, "target_key") or "").split("#")
        list_key = parts[1] if len(parts) > 2 else None
    if not (provider and event_id and settled and list_key):
        return None
    try:
        moment = datetime.fromisoformat(settled)
    except ValueError:
        return None
    return SettledUnsubscribe(
        provider, list_key, event_id, moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    )
