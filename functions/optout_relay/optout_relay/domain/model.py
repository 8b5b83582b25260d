"""The relay's vocabulary: opt-out events, phone numbers, outcomes."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from optout_relay.domain.evidence import Evidence, frozen_evidence, no_evidence
from optout_relay.masking import mask_phone


class Status(StrEnum):
    """Ledger status of one (event, provider target)."""

    UNSUBSCRIBED = "unsubscribed"
    NOT_SUBSCRIBED = "not_subscribed"
    REJECTED = "rejected"
    RETRYING = "retrying"
    FAILED = "failed"
    # Not a ledger status: no rate budget now, the record comes back later.
    DEFERRED = "deferred"

    @property
    def is_settled_success(self) -> bool:
        return self in (Status.UNSUBSCRIBED, Status.NOT_SUBSCRIBED)


@dataclass(frozen=True)
class Phone:
    """A validated phone number; ``repr`` and ``masked`` never show more than 4 digits."""

    e164: str
    country_code: int
    national_number: str
    region: str | None

    @property
    def masked(self) -> str:
        return mask_phone(self.e164)

    def __repr__(self) -> str:
        return f"Phone({self.masked})"


@dataclass(frozen=True)
class ListRef:
    """Which list at the provider: ``field`` is the ledger/contract field name."""

    field: str
    value: str

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class OptOut:
    """One opt-out event at one target (a list at one provider account)."""

    event_id: str
    provider: str
    phone: Phone
    list_ref: ListRef
    occurred_at: str | None = None
    source: str | None = None
    account: str = ""  # the account id; empty: the provider's default account
    target_name: str = ""  # ``<account>#<list>``; empty: ``<provider>#<list>``

    @property
    def account_id(self) -> str:
        return self.account or self.provider

    @property
    def target(self) -> str:
        """The ledger sort key: target and event, so a phone's history is one Query."""
        name = self.target_name or f"{self.provider}#{self.list_ref.value}"
        return f"{name}#{self.event_id}"

    @property
    def short_target(self) -> str:
        return self.target_name or f"{self.provider}#{self.list_ref.value}"

    @property
    def ledger_key(self) -> tuple[str, str]:
        """The ledger item's key: phone number and target."""
        return (self.phone.e164, self.target)


def target_id(target_name: str) -> str:
    """A short, digit-free-enough id of a target (``<account>#<list>``) for a DLQ attribute:
    the name itself holds a list number, which attributes show masked."""
    return "t-" + hashlib.sha256(target_name.encode()).hexdigest()[:20]


def ledger_target(provider: str, list_value: str | None, event_id: str) -> str:
    return f"{provider}#{list_value or '-'}#{event_id}"


@dataclass(frozen=True)
class PartialOptOut:
    """What could be read from an invalid event; enough for a ledger row if phone and provider are."""

    event_id: str
    provider: str | None = None
    phone: Phone | None = None
    list_ref: ListRef | None = None
    occurred_at: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One SQS record, as the domain needs it (no Powertools or boto3 types)."""

    message_id: str
    body: str
    receive_count: int
    receipt_handle: str = ""
    event_source_arn: str = ""
    message_group_id: str | None = None
    # Set on a message the relay re-enqueued itself, so the copy keeps its event's identity.
    pinned_event_id: str | None = None
    # Set on a copy re-enqueued after the provider answered but the ledger could not be
    # written: the provider's answers, for the next delivery to record without calling again.
    carried_confirmation: str | None = None
    # Set on a message redriven from the DLQ after one target's permanent failure: only
    # that target (its ``target_id``) is tried again.
    redrive_target: str | None = None
    # When the relay first had the message: a copy's ``optout_received_at`` attribute, else
    # when SQS accepted it (``SentTimestamp``); ISO-8601 UTC.
    first_seen_at: str | None = None
    # Set on a fresh copy of a record whose target had failed before: the receives of the
    # messages it replaced (``optout_prior_receives``).
    prior_receives: int = 0

    @property
    def receives(self) -> int:
        """Receives that count towards the retry limit: this message's and its forerunners'."""
        return self.receive_count + self.prior_receives

    @property
    def is_fifo(self) -> bool:
        return self.event_source_arn.endswith(".fifo")


@dataclass(frozen=True)
class Credentials:
    """Provider credentials. ``repr`` hides them so they cannot reach a log by accident."""

    api_key: str = field(repr=False)
    login: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CallResult:
    status: Status
    http_status: int
    # The provider's own confirmation (``domain.evidence``), read-only. Not part of what the
    # answer is: the same answer given a second later has another ``Date``.
    evidence: Evidence = field(default_factory=no_evidence, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "evidence", frozen_evidence(self.evidence))


class Fate(StrEnum):
    """What becomes of an SQS record once the relay has handled it."""

    DONE = "done"  # settled, dead-lettered, or carried on by a fresh copy: delete it
    GIVE_BACK = "give_back"  # a batch item failure: SQS delivers it again
    DEFERRED = "deferred"  # no rate budget (or time) now: back later, not an error


@dataclass(frozen=True)
class RecordOutcome:
    """The one decision about a record, returned (never raised) by the relay."""

    fate: Fate
    status: Status | None = None
    reason: str | None = None  # the error code behind a GIVE_BACK or DEFERRED

    @classmethod
    def done(cls, status: Status | None) -> RecordOutcome:
        return cls(Fate.DONE, status)

    @classmethod
    def give_back(cls, reason: str, status: Status | None = None) -> RecordOutcome:
        return cls(Fate.GIVE_BACK, status, reason)

    @classmethod
    def deferred(cls, reason: str) -> RecordOutcome:
        return cls(Fate.DEFERRED, Status.DEFERRED, reason)


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger write: the state of an (event, target) after a step."""

    phone_number: str
    target: str
    event_id: str
    provider: str
    status: Status
    message_id: str
    receive_count: int
    list_field: str | None = None
    list_value: str | None = None
    attempts_added: int = 0
    http_status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    occurred_at: str | None = None
    source: str | None = None
    account: str | None = None
    # A provider's answer: its confirmation (``domain.evidence``), written with the outcome.
    evidence: Evidence = field(default_factory=no_evidence, hash=False)
    timeline: Timeline | None = None
    # A one-target opt-out's final outcome completes it (a fan-out's summary says so instead).
    completes_opt_out: bool = False
    # One write's identity: a retry of the same write (after a timeout that may have taken
    # effect) is recognised by the ledger and not counted twice.
    write_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Timeline:
    """When an opt-out was received and when it must be honoured by (ISO-8601 UTC)."""

    received_at: str
    deadline_at: str


@dataclass(frozen=True)
class FanOutSummary:
    """One item per fan-out event (scope everywhere or provider): what it selected, from
    which targets document version, and how far it got."""

    phone_number: str
    event_id: str
    scope: str
    document_version: int
    target_names: tuple[str, ...]
    settled: int
    last_settled_at: str | None = None
    occurred_at: str | None = None
    source: str | None = None
    timeline: Timeline | None = None

    @property
    def complete(self) -> bool:
        return self.settled >= len(self.target_names)
