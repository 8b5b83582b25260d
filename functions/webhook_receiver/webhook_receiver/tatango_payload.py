"""Tatango's webhook body (README, "Listening for STOPs"; provider-docs NOTES, "Webhooks").

Every payload has ``type`` and ``timestamp``. An ``unsubscribe`` carries
``unsubscribe_date`` (ISO 8601), ``account_id``, ``campaign_id`` (the list id),
``opt_id`` (unique per opt event) and ``phone_number`` (10 digits, no country code):
the fields the event is built from are required, the rest is not checked. Other types
(``subscribe``, ``message_sent``, ...) are acknowledged and ignored.
"""

from __future__ import annotations

import re

from webhook_receiver.payload_fields import FieldReader, json_object
from webhook_receiver.stop_event import Ignored, StopEvent

PROVIDER = "tatango"
UNSUBSCRIBE = "unsubscribe"
# A North American number: area code and exchange never start with 0 or 1.
_NANP = re.compile(r"^(?:\+?1)?([2-9]\d{2}[2-9]\d{6})$")


def _phone(reader: FieldReader) -> str | None:
    value = reader.document.get("phone_number")
    if value is None or value == "":
        reader.problems.append("phone_number: required")
        return None
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    found = _NANP.match(text.strip())
    if found is None:
        reader.problems.append("phone_number: must be a 10-digit North American number")
        return None
    return "+1" + found.group(1)


def parse_tatango(body: bytes) -> StopEvent | Ignored:
    """The STOP an ``unsubscribe`` webhook reports, or ``Ignored`` for another type.
    Raises ``WebhookShapeError`` with every problem."""
    reader = FieldReader(json_object(body))
    event_type = reader.text("type")
    reader.done()
    if event_type != UNSUBSCRIBE:
        return Ignored(PROVIDER, str(event_type))
    occurred_at = reader.instant("unsubscribe_date")
    list_id = reader.positive_integer("campaign_id")
    opt_id = reader.positive_integer("opt_id")
    phone = _phone(reader)
    reader.done()
    assert occurred_at is not None and list_id is not None and opt_id is not None and phone is not None
    return StopEvent(
        provider=PROVIDER,
        phone_number=phone,
        list_field="list_id",
        list_value=list_id,
        webhook_id=str(opt_id),
        occurred_at=occurred_at,
        keyword=UNSUBSCRIBE,
    )
