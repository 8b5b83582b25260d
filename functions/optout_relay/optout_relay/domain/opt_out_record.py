"""One opt-out as the ledger records it: when it was received, its deadline, its targets.

A fan-out (scope everywhere or provider) names its targets in a summary item; a
single-target opt-out has no summary and its one target is the opt-out. A target is
final once its strongest outcome is unsubscribed, not_subscribed, rejected or failed;
the opt-out is complete when every target it names is final and open until then (a
named target with nothing recorded yet is open). ``aws/opt_out_index.group_opt_outs``
builds these from the items of the ``by-received-day`` index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class TargetRecord:
    """One target of an opt-out: ``name`` is ``<account>#<list>`` (it holds a list number)."""

    name: str
    # The strongest recorded status; None when nothing is recorded for this target yet.
    status: str | None
    final: bool
    error_code: str | None = None
    # The target's items merged into one row (``ledger_items.merge_items``), as stored.
    row: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OptOutRecord:
    phone_number: str
    event_id: str
    received_at: datetime
    deadline_at: datetime
    targets: tuple[TargetRecord, ...]
    # The fan-out summary item, as stored; None for a single-target opt-out.
    summary: Mapping[str, Any] | None = None

    @property
    def complete(self) -> bool:
        return all(target.final for target in self.targets)

    @property
    def unsettled(self) -> tuple[TargetRecord, ...]:
        return tuple(target for target in self.targets if not target.final)

    @property
    def completed_at(self) -> str | None:
        """When the last target became final: the summary's ``completed_at``, or the one
        target's ``settled_at``; None while open."""
        if not self.complete:
            return None
        if self.summary is not None and self.summary.get("completed_at"):
            return str(self.summary["completed_at"])
        settled = [str(t.row.get("settled_at") or t.row.get("processed_at") or "") for t in self.targets]
        return max(settled, default="") or None
