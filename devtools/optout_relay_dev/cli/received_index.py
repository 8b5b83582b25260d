"""Reads the ledger by day of receipt: one Query per UTC day on the ``by-received-day`` index
(paginated), or one Query on a phone number's partition filtered to a period. Never a Scan.

The day reader is the function package's own (``aws/opt_out_index.py``, shared with the
deadline watch); the report reaches the ledger only through these two. Both return items
as plain Python values (numbers as ``int``/``float``), every item of every opt-out,
summaries included, unmerged. A global
secondary index is eventually consistent: a write of the last second may not show yet.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from optout_relay.aws.ledger_items import PARTITION_KEY, RECEIVED_DAY, RECEIVED_INDEX
from optout_relay.aws.opt_out_index import OptOutIndex

from optout_relay_dev.cli.ledger_view import item_from_dynamodb

RECEIVED_DAY_INDEX = RECEIVED_INDEX


def items_received_on(
    dynamodb: Any, table_name: str, day: date, page_size: int | None = None
) -> list[dict[str, Any]]:
    """Every ledger item of the opt-outs received on one UTC day, in order of receipt: the
    function package's own reader of the index (the deadline watch reads it the same way)."""
    return OptOutIndex(table_name, dynamodb=dynamodb, page_size=page_size).items_received_on(day)


def items_of_phone(
    dynamodb: Any, table_name: str, e164: str, first: date, last: date
) -> list[dict[str, Any]]:
    """Every ledger item of one number's opt-outs received from ``first`` to ``last`` (UTC days)."""
    request: dict[str, Any] = {
        "TableName": table_name,
        "KeyConditionExpression": "#pk = :phone",
        "FilterExpression": "#day BETWEEN :first AND :last",
        "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#day": RECEIVED_DAY},
        "ExpressionAttributeValues": {
            ":phone": {"S": e164},
            ":first": {"S": first.isoformat()},
            ":last": {"S": last.isoformat()},
        },
        "ConsistentRead": True,
    }
    return _all_pages(dynamodb, request)


def _all_pages(dynamodb: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        response = dynamodb.query(**request)
        items.extend(item_from_dynamodb(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
