"""What the relay needs from the outside world. The ``aws`` package implements these
with boto3; tests use in-memory fakes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from optout_relay.domain.model import InboundMessage, LedgerEntry, Status


class Ledger(Protocol):
    def settled_status(self, phone_number: str, target: str) -> Status | None:
        """The status of a target if it already succeeded (strongly consistent), else ``None``."""

    def settled_statuses(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Status | None]:
        """``settled_status`` for many (phone_number, target) keys at once."""

    def record(self, entry: LedgerEntry) -> bool:
        """Write one step; never overwrite a success (``unsubscribed`` may replace
        ``not_subscribed``: the provider's removal is the stronger fact). ``False`` if the
        write was not needed: a success already there, or this very write already applied."""


class DeadLetters(Protocol):
    def send(
        self, message: InboundMessage, error_code: str, error_message: str, extra: Mapping[str, str]
    ) -> None:
        """Put the original body on the dead-letter queue with the reason as attributes."""


class SecretStore(Protocol):
    def get(self, secret_id: str, *, refresh: bool = False) -> Mapping[str, Any]:
        """The secret's JSON, cached; ``refresh`` fetches it again."""


class SourceQueue(Protocol):
    def defer(self, message: InboundMessage, seconds: float) -> None:
        """Keep the message invisible for ``seconds`` before SQS redelivers it."""

    def requeue(
        self, message: InboundMessage, delay_seconds: int, event_id: str, *, confirmation: str | None = None
    ) -> None:
        """Send a fresh copy (receive count 0) delivered after ``delay_seconds``, keeping the
        event's id and, when given, the provider's answer it carries (``Confirmation``)."""


class RateBudget(Protocol):
    def take(self, provider: str, rate_per_second: float, *, waited: bool = False) -> float:
        """``0.0`` if one call may go now, else the seconds until the record should come
        back. A record that ``waited`` before is not queued again behind newer ones."""

    def shrink(self, provider: str, factor: float, seconds: float) -> None:
        """Run at ``factor`` of the rate for ``seconds`` (after a 429)."""
