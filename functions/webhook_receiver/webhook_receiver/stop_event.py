"""A STOP a provider told us about, and the everywhere-event it becomes on the queue.

The event's ``event_id`` is derived from the webhook itself, so each retry of one
webhook by the provider is the same opt-out (the relay's ledger makes it one):
Tatango's ``opt_id`` is unique per opt event; Trackly sends no id, so a hash of the
number, the list and the time stands in for one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webhook_receiver.masking import mask_numbers, mask_phone

SCOPE = "everywhere"
TRACKLY_ID_HEX_DIGITS = 32


def iso_utc(moment: datetime) -> str:
    """``2026-11-20T10:00:00.000Z``: the instant format of the relay's ledger."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Ignored:
    """An authenticated webhook of a type the relay does not act on (acknowledged)."""

    provider: str
    event_type: str


@dataclass(frozen=True)
class StopEvent:
    """One STOP at one provider list."""

    provider: str
    phone_number: str  # E.164
    list_field: str  # "list_id" (Tatango) or "list_number" (Trackly)
    list_value: int | str
    webhook_id: str  # Tatango's opt_id, or the hash standing in for Trackly's
    occurred_at: datetime  # aware, when the provider unsubscribed the number
    keyword: str

    @property
    def event_id(self) -> str:
        if self.provider == "tatango":
            return f"tatango-opt-{self.webhook_id}"
        return f"{self.provider}-{self.webhook_id}"

    @property
    def list_key(self) -> str:
        """The list as the ledger's items name it (``4242``, ``+18005551234``)."""
        return str(self.list_value)

    @property
    def source(self) -> str:
        return f"{self.provider} webhook: {self.keyword}"

    def message(self) -> dict[str, Any]:
        """The body published on the relay's queue (README, "Listening for STOPs")."""
        return {
            "scope": SCOPE,
            "phone_number": self.phone_number,
            "event_id": self.event_id,
            "occurred_at": iso_utc(self.occurred_at),
            "source": self.source,
            "origin": {
                "provider": self.provider,
                self.list_field: self.list_value,
                "webhook_id": self.webhook_id,
            },
        }

    def message_body(self) -> str:
        return json.dumps(self.message(), separators=(",", ":"))

    def log_fields(self) -> dict[str, str]:
        """What a log line may say about it: masked number, list and ids."""
        return {
            "provider": self.provider,
            "phone": mask_phone(self.phone_number),
            "list": mask_numbers(self.list_key),
            "event_id": mask_numbers(self.event_id),
        }


def trackly_webhook_id(phone_number: str, list_number: str, occurred_at: datetime) -> str:
    """The first 32 hex digits of sha256(number|list|time): the same for every retry."""
    text = f"{phone_number}|{list_number}|{iso_utc(occurred_at)}"
    return hashlib.sha256(text.encode()).hexdigest()[:TRACKLY_ID_HEX_DIGITS]
