"""The DynamoDB ledger: the only module that reads or writes the results table.

Key schema: partition key ``phone_number`` (E.164), sort key ``target``
(``provider#list#event_id``), so "what happened to this number, everywhere" is
one Query. One item per (event, provider target), updated in place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optout_relay.aws.clients import LazyClient
from optout_relay.aws.errors import aws_call, error_code, transient_from
from optout_relay.domain.model import LedgerEntry, Status

PARTITION_KEY = "phone_number"
SORT_KEY = "target"
TTL_ATTRIBUTE = "expires_at"
_SETTLED = (Status.UNSUBSCRIBED.value, Status.NOT_SUBSCRIBED.value)
# Cleared when a later step has no value for them (a success after a retry has no error).
_CLEARABLE = ("http_status", "error_code", "error_message")


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DynamoLedger:
    dynamodb = LazyClient("dynamodb")

    def __init__(self, table_name: str, dynamodb: Any = None, retention_days: int = 0) -> None:
        self.table_name = table_name
        self.retention_days = retention_days
        self._dynamodb = dynamodb

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
        """One strongly consistent BatchGetItem per 100 keys instead of a GetItem per record."""
        found: dict[tuple[str, str], Status | None] = dict.fromkeys(keys)
        unique = list(found)
        for start in range(0, len(unique), 100):
            pending: dict[str, Any] = {
                self.table_name: {
                    "Keys": [
                        {PARTITION_KEY: {"S": p}, SORT_KEY: {"S": t}} for p, t in unique[start : start + 100]
                    ],
                    "ConsistentRead": True,
                    "ProjectionExpression": "#pk, #sk, #status",
                    "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY, "#status": "status"},
                }
            }
            for _ in range(5):  # unprocessed keys come back under load; boto3 retries throttling itself
                with aws_call("DynamoDB BatchGetItem"):
                    response = self.dynamodb.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    status = item.get("status", {}).get("S")
                    key = (item[PARTITION_KEY]["S"], item[SORT_KEY]["S"])
                    found[key] = Status(status) if status in _SETTLED else None
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
            else:
                for key in pending[self.table_name]["Keys"]:
                    found.pop((key[PARTITION_KEY]["S"], key[SORT_KEY]["S"]), None)  # read per record instead
        return found

    def record(self, entry: LedgerEntry) -> bool:
        moment = datetime.now(UTC)
        now = iso_utc(moment)
        values: dict[str, Any] = {
            "event_id": entry.event_id,
            "provider": entry.provider,
            "status": entry.status.value,
            "message_id": entry.message_id,
            "receive_count": entry.receive_count,
            "processed_at": now,
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
        names["#first"] = "first_seen_at"
        names["#attempts"] = "attempts"
        names["#status"] = "status"
        attribute_values.update(
            {
                ":now": {"S": now},
                ":calls": {"N": str(entry.attempts_added)},
                ":zero": {"N": "0"},
                ":unsubscribed": {"S": _SETTLED[0]},
                ":not_subscribed": {"S": _SETTLED[1]},
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
                    "attribute_not_exists(#pk) OR NOT (#status IN (:unsubscribed, :not_subscribed))"
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


def _attribute(value: Any) -> dict[str, str]:
    if isinstance(value, bool):
        raise TypeError("booleans are not stored in the ledger")
    if isinstance(value, int | float):
        return {"N": str(value)}
    return {"S": str(value)}
