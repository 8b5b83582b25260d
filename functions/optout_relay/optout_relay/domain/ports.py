"""What the relay needs from the outside world. The ``aws`` package implements these
with boto3; tests use in-memory fakes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from optout_relay.domain.model import (
    CallResult,
    Credentials,
    FanOutSummary,
    InboundMessage,
    LedgerEntry,
    ListRef,
    Phone,
    Status,
)
from optout_relay.domain.targets import Account
from optout_relay.errors import TransientError


class Ledger(Protocol):
    def statuses(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Status | None]:
        """The strongest status recorded for each (phone_number, target), strongly
        consistent; ``None`` where nothing is recorded."""

    def document_versions(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The targets document version each (phone_number, event_id) fan-out started
        with, for those that have a summary."""

    def record_summary(self, summary: FanOutSummary) -> None:
        """Write a fan-out's summary item (whole, last writer wins: it is derived)."""

    def unsubscribed_near(
        self, phone_number: str, provider: str, list_value: str, moment: str, seconds: float
    ) -> str | None:
        """The event id of an ``unsubscribed`` outcome this relay recorded for that number at
        that provider list within ``seconds`` of ``moment`` (ISO-8601), if there is one."""

    def record_echo(self, phone_number: str, event_id: str, echo_of: str, origin: str) -> None:
        """Note that a webhook event only echoed the relay's own unsubscribe ``echo_of``."""

    def record(self, entry: LedgerEntry) -> bool:
        """Write one step; never overwrite a success (``unsubscribed`` may replace
        ``not_subscribed``: the provider's removal is the stronger fact). ``False`` if the
        write was not needed: a success already there, or this very write already applied."""

    def record_all(self, entries: Sequence[LedgerEntry]) -> list[TransientError | None]:
        """Write several steps together (final outcomes share round trips), by the rules of
        ``record``; for each, ``None`` once stored, else the error that kept it out."""


class ProviderClient(Protocol):
    """One provider account's client: ``providers.base.ProviderAdapter``."""

    @property
    def name(self) -> str: ...

    def credentials_from(self, secret: Mapping[str, Any]) -> Credentials:
        """Raise ``TransientError`` if the secret is malformed."""

    def unsubscribe(self, phone: Phone, list_ref: ListRef, credentials: Credentials) -> CallResult:
        """Call the provider. Raise typed errors; never return for a failure."""


class AccountClients(Protocol):
    def client_for(self, account: Account) -> ProviderClient:
        """The client of this account (its provider, at its base URL), built once."""


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
        self,
        message: InboundMessage,
        delay_seconds: int,
        event_id: str,
        *,
        confirmation: str | None = None,
        prior_receives: int = 0,
    ) -> None:
        """Send a fresh copy (receive count 0) delivered after ``delay_seconds``, keeping the
        event's id and, when given, the provider's answer it carries (``Confirmation``) and
        the receives that still count towards the retry limit."""


class RateBudget(Protocol):
    def take(self, account: str, rate_per_second: float, *, waited: bool = False) -> float:
        """``0.0`` if one call may go now, else the seconds until the record should come
        back. A record that ``waited`` before is not queued again behind newer ones."""

    def shrink(self, account: str, factor: float, seconds: float) -> None:
        """Run at ``factor`` of the rate for ``seconds`` (after a 429)."""
