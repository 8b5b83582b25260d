"""What the Tatango simulator keeps: subscribers as the API returns them, and rate limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

# Tatango is in Seattle: some timestamps come back in Pacific time, others in UTC.
PACIFIC = timezone(timedelta(hours=-7))


@dataclass(frozen=True)
class RateLimit:
    """At most ``calls`` admitted calls per account in any rolling ``window_seconds``."""

    calls: int
    window_seconds: float

    def __post_init__(self) -> None:
        if self.calls < 1 or self.window_seconds <= 0:
            raise ValueError("a rate limit needs calls >= 1 and a positive window")


PUBLISHED_RATE_LIMIT = RateLimit(calls=1200, window_seconds=3600.0)


@dataclass(frozen=True)
class Subscriber:
    """A subscriber of one list, with the fields the API returns."""

    phone_number: str
    subscribed_at: datetime
    active: bool = True
    opted_out_at: datetime | None = None
    cleaned_at: datetime | None = None
    opt_in_method: str = "keyword"
    keyword_name: str | None = "JOIN"
    first_name: str = "Jordan"
    last_name: str = "Doe"
    email: str = "jordan.doe@example.com"
    birthdate: str = "19900101"
    zip_code: str = "98101"
    gender: str = "Unknown"
    carrier: int = 383
    carrier_name: str = "Verizon Wireless"
    global_carrier_id: str = "12345"
    global_carrier_name: str = "Verizon"
    tags: tuple[str, ...] = field(default=())
    total_messages_received: int = 0

    def to_json(self, opted_out_zone: tzinfo = PACIFIC) -> dict[str, Any]:
        return {
            "phone_number": self.phone_number,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "birthdate": self.birthdate,
            "zip_code": self.zip_code,
            "gender": self.gender,
            "cleaned_at": timestamp_in(self.cleaned_at, UTC),
            "subscribed_at": timestamp_in(self.subscribed_at, UTC),
            "opted_out_at": timestamp_in(self.opted_out_at, opted_out_zone),
            "opt_in_method": self.opt_in_method,
            "keyword_name": self.keyword_name,
            "carrier": self.carrier,
            "carrier_name": self.carrier_name,
            "global_carrier_id": self.global_carrier_id,
            "global_carrier_name": self.global_carrier_name,
            "tags": list(self.tags),
            "total_messages_received": self.total_messages_received,
        }


def timestamp_in(moment: datetime | None, zone: tzinfo) -> str | None:
    if moment is None:
        return None
    text = moment.astimezone(zone).isoformat(timespec="seconds")
    return text.replace("+00:00", "Z")
