"""An audit of opt-outs: ledger items grouped into opt-outs, each judged against its deadline.

An opt-out is one event for one number: its target items (read as one row per target,
``merge_items``) and, for a fan-out, its summary item. It is complete once every target
is final (``unsubscribed``, ``not_subscribed``, ``rejected``, ``failed``); a fan-out's
``completed_at`` is its summary's, a single target's is that target's ``settled_at``.
The verdict is ``within_deadline`` of that instant (or, while open, of now), never a
count of business days: an opt-out completed on the weekend right after its deadline
took 10 business days and is late.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from optout_relay.aws.ledger_items import PARTITION_KEY, SORT_KEY, merge_items
from optout_relay.domain.deadline import (
    business_days_between,
    business_days_left,
    deadline_at,
    within_deadline,
)
from optout_relay.domain.timestamps import iso_utc, parse_utc

FINAL = frozenset({"unsubscribed", "not_subscribed", "rejected", "failed"})
NOT_APPLIED = frozenset({"rejected", "failed"})
PENDING = "pending"  # a fan-out target with no ledger item yet
SINGLE = "single"  # the scope shown for an opt-out with one target (it has no summary)


class Verdict(StrEnum):
    WITHIN = "complete_within_deadline"
    LATE = "complete_late"
    OPEN = "open"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class TargetOutcome:
    """One target of an opt-out (``<account>#<list>``), as the ledger holds it now."""

    name: str
    provider: str
    account: str
    list: str
    status: str
    attempts: int
    error_code: str | None
    settled_at: str | None
    business_days_taken: int | None
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OptOutAudit:
    phone_number: str
    event_id: str
    scope: str
    received_at: str
    deadline_at: str
    completed_at: str | None
    verdict: Verdict
    business_days_taken: int | None  # complete ones: received to completed
    business_days_left: int | None  # open ones (negative once past the deadline's day)
    targets: tuple[TargetOutcome, ...]

    @property
    def not_applied_somewhere(self) -> bool:
        """Complete, but a target's final outcome is ``rejected`` or ``failed``."""
        return self.completed_at is not None and any(t.status in NOT_APPLIED for t in self.targets)


@dataclass(frozen=True)
class Totals:
    received: int
    complete_within_deadline: int
    complete_late: int
    open: int
    open_fewest_business_days_left: int | None
    overdue: int
    complete_with_a_target_rejected_or_failed: int


def audit_opt_outs(items: Iterable[Mapping[str, Any]], now: datetime) -> list[OptOutAudit]:
    """The opt-outs these ledger items belong to, judged as of ``now``, oldest first.

    Items without ``received_at`` (written before the relay recorded it) are left out:
    nothing says when they were received, so nothing can judge them.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for item in items:
        if item.get("received_at"):
            key = (str(item.get(PARTITION_KEY, "")), str(item.get("event_id", "")))
            groups.setdefault(key, []).append(item)
    audits = [_audit(phone, event_id, group, now) for (phone, event_id), group in groups.items()]
    return sorted(audits, key=lambda audit: (audit.received_at, audit.phone_number, audit.event_id))


def totals_of(audits: Sequence[OptOutAudit]) -> Totals:
    def count(verdict: Verdict) -> int:
        return sum(audit.verdict is verdict for audit in audits)

    days_left = [a.business_days_left for a in audits if a.verdict is Verdict.OPEN]
    return Totals(
        received=len(audits),
        complete_within_deadline=count(Verdict.WITHIN),
        complete_late=count(Verdict.LATE),
        open=count(Verdict.OPEN),
        open_fewest_business_days_left=min((d for d in days_left if d is not None), default=None),
        overdue=count(Verdict.OVERDUE),
        complete_with_a_target_rejected_or_failed=sum(a.not_applied_somewhere for a in audits),
    )


def _audit(phone: str, event_id: str, group: list[Mapping[str, Any]], now: datetime) -> OptOutAudit:
    summary = next((item for item in group if item.get("kind") == "summary"), None)
    received = parse_utc(str(_first(group, "received_at")))
    deadline_text = _first(group, "deadline_at")
    deadline = parse_utc(str(deadline_text)) if deadline_text else deadline_at(received)
    rows = merge_items(item for item in group if item.get("kind") != "summary")
    targets = _targets(rows, summary, event_id, received)
    completed = _completed_at(summary, targets)
    if completed is not None:
        verdict = Verdict.WITHIN if within_deadline(completed, deadline) else Verdict.LATE
        taken, left = business_days_between(received, completed), None
    else:
        verdict = Verdict.OPEN if within_deadline(now, deadline) else Verdict.OVERDUE
        taken, left = None, business_days_left(now, deadline)
    return OptOutAudit(
        phone_number=phone,
        event_id=event_id,
        scope=str(summary.get("scope", "")) if summary else SINGLE,
        received_at=iso_utc(received),
        deadline_at=iso_utc(deadline),
        completed_at=iso_utc(completed) if completed else None,
        verdict=verdict,
        business_days_taken=taken,
        business_days_left=left,
        targets=targets,
    )


def _first(group: Iterable[Mapping[str, Any]], name: str) -> Any:
    return next((item[name] for item in group if item.get(name)), None)


def _targets(
    rows: list[dict[str, Any]], summary: Mapping[str, Any] | None, event_id: str, received: datetime
) -> tuple[TargetOutcome, ...]:
    """A fan-out's targets in its summary's order (those not yet in the ledger as ``pending``)."""
    found = {_name_of(row, event_id): _outcome(row, event_id, received) for row in rows}
    named = [str(name) for name in (summary or {}).get("target_names", [])]
    pending = [_pending(name) for name in named if name not in found]
    ordered = [found[name] for name in named if name in found]
    return (*ordered, *pending, *(outcome for name, outcome in found.items() if name not in named))


def _name_of(row: Mapping[str, Any], event_id: str) -> str:
    return str(row.get(SORT_KEY, "")).removesuffix(f"#{event_id}")


def _outcome(row: Mapping[str, Any], event_id: str, received: datetime) -> TargetOutcome:
    status = str(row.get("status", PENDING))
    settled = row.get("settled_at") or (row.get("processed_at") if status in FINAL else None)
    list_value = row.get("list_number", row.get("list_id"))
    evidence = row.get("evidence")
    return TargetOutcome(
        name=_name_of(row, event_id),
        provider=str(row.get("provider", "")),
        account=str(row.get("account") or row.get("provider", "")),
        list="" if list_value is None else str(list_value),
        status=status,
        attempts=int(row.get("attempts", 0) or 0),
        error_code=str(row["error_code"]) if row.get("error_code") else None,
        settled_at=str(settled) if settled and status in FINAL else None,
        business_days_taken=(
            business_days_between(received, parse_utc(str(settled))) if settled and status in FINAL else None
        ),
        evidence=dict(evidence) if isinstance(evidence, Mapping) else {},
    )


def _pending(name: str) -> TargetOutcome:
    account, _, list_value = name.partition("#")
    return TargetOutcome(
        name=name,
        provider="",
        account=account,
        list=list_value,
        status=PENDING,
        attempts=0,
        error_code=None,
        settled_at=None,
        business_days_taken=None,
    )


def _completed_at(summary: Mapping[str, Any] | None, targets: Sequence[TargetOutcome]) -> datetime | None:
    """The summary's ``completed_at``; else, once every target is final, the last ``settled_at``."""
    if summary is not None and summary.get("completed_at"):
        return parse_utc(str(summary["completed_at"]))
    settled = [t.settled_at for t in targets if t.status in FINAL and t.settled_at]
    if not targets or len(settled) < len(targets):
        return None
    return max(parse_utc(moment) for moment in settled)
