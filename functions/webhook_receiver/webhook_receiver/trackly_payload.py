"""Trackly's webhook body (README, "Listening for STOPs"; provider-docs NOTES, "Webhooks").

``{"event": "unsubscribe", "phone_number": "+1...", "list_number": "+1800...",
"keyword": "STOP", "timestamp": "2024-01-15T10:35:00.000Z"}``; other events
(``delivery``, ``reply``) are acknowledged and ignored. ``keyword`` is optional here:
whether an API unsubscribe fires this webhook is not documented, and if it does it has
no keyword to send; refusing it would make Trackly retry, then pause the endpoint.
"""

from __future__ import annotations

import re

from webhook_receiver.payload_fields import FieldReader, json_object
from webhook_receiver.stop_event import Ignored, StopEvent, trackly_webhook_id

PROVIDER = "trackly"
UNSUBSCRIBE = "unsubscribe"
_KEYWORD_CHARACTERS = re.compile(r"[^A-Z0-9 _-]")
MAX_KEYWORD = 32


def _keyword(reader: FieldReader) -> str:
    """The opt-out keyword as the event's ``source`` names it (safe characters only)."""
    text = reader.text("keyword", required=False)
    cleaned = _KEYWORD_CHARACTERS.sub("", (text or "").upper()).strip()[:MAX_KEYWORD]
    return cleaned or UNSUBSCRIBE


def parse_trackly(body: bytes) -> StopEvent | Ignored:
    """The STOP an ``unsubscribe`` webhook reports, or ``Ignored`` for another event.
    Raises ``WebhookShapeError`` with every problem."""
    reader = FieldReader(json_object(body))
    event = reader.text("event")
    reader.done()
    if event != UNSUBSCRIBE:
        return Ignored(PROVIDER, str(event))
    phone = reader.e164("phone_number")
    list_number = reader.e164("list_number")
    occurred_at = reader.instant("timestamp")
    keyword = _keyword(reader)
    reader.done()
    assert phone is not None and list_number is not None and occurred_at is not None
    return StopEvent(
        provider=PROVIDER,
        phone_number=phone,
        list_field="list_number",
        list_value=list_number,
        webhook_id=trackly_webhook_id(phone, list_number, occurred_at),
        occurred_at=occurred_at,
        keyword=keyword,
    )
