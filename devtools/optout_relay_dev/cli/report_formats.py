"""The audit report as JSON (for machines) and CSV (for spreadsheets); ``report_table`` is for people.

CSV layout: a block of ``name,value`` rows (the period, when it was judged, the source
and the totals), one empty row, then a header row and one row per target of every
opt-out (the opt-out's own columns repeated on each of its rows, so any row can be
filtered or sorted on its own). It starts with a UTF-8 byte order mark: without one,
Excel reads a CSV in the machine's legacy code page and garbles any non-ASCII text (an
event id, an account name, an error code). Instants are ISO-8601 UTC text. A text cell
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with
``'`` so that a spreadsheet shows it as text and never runs it as a formula; that also
keeps E.164 phone numbers (``+1206...``) as text instead of a number without its ``+``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from optout_relay.domain.timestamps import iso_utc

from optout_relay_dev.cli.audit import OptOutAudit, TargetOutcome, Totals

BYTE_ORDER_MARK = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EVIDENCE_FIELDS = ("http_status", "provider_date", "request_id", "opted_out_at", "unsubscribed")
OPT_OUT_COLUMNS = (
    "phone_number",
    "event_id",
    "scope",
    "received_at",
    "deadline_at",
    "completed_at",
    "verdict",
    "business_days_taken",
    "business_days_left",
)
TARGET_COLUMNS = (
    "target",
    "provider",
    "account",
    "list",
    "status",
    "attempts",
    "error_code",
    "settled_at",
    "target_business_days_taken",
    *(f"evidence_{name}" for name in EVIDENCE_FIELDS),
    "evidence_other",
)
CSV_COLUMNS = (*OPT_OUT_COLUMNS, *TARGET_COLUMNS)


@dataclass(frozen=True)
class Report:
    first_day: date
    last_day: date
    as_of: datetime
    source: str
    phone_number: str | None
    opt_outs: list[OptOutAudit]
    totals: Totals

    @property
    def period(self) -> str:
        return f"{self.first_day.isoformat()} to {self.last_day.isoformat()}"

    def about(self) -> dict[str, Any]:
        about: dict[str, Any] = {
            "from": self.first_day.isoformat(),
            "to": self.last_day.isoformat(),
            "as_of": iso_utc(self.as_of),
            "source": self.source,
        }
        if self.phone_number:
            about["phone_number"] = self.phone_number
        return about


def report_json(report: Report) -> str:
    document = {
        "report": report.about(),
        "totals": asdict(report.totals),
        "opt_outs": [asdict(audit) for audit in report.opt_outs],
    }
    return json.dumps(document, indent=2) + "\n"


def report_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["optout-relay audit report"])
    for name, value in [*report.about().items(), *asdict(report.totals).items()]:
        writer.writerow([name, spreadsheet_cell(value)])
    writer.writerow([])
    writer.writerow(CSV_COLUMNS)
    for row in csv_rows(report.opt_outs):
        writer.writerow([spreadsheet_cell(row[column]) for column in CSV_COLUMNS])
    return BYTE_ORDER_MARK + buffer.getvalue()


def csv_rows(audits: list[OptOutAudit]) -> Iterator[dict[str, Any]]:
    for audit in audits:
        opt_out = {
            "phone_number": audit.phone_number,
            "event_id": audit.event_id,
            "scope": audit.scope,
            "received_at": audit.received_at,
            "deadline_at": audit.deadline_at,
            "completed_at": audit.completed_at,
            "verdict": audit.verdict.value,
            "business_days_taken": audit.business_days_taken,
            "business_days_left": audit.business_days_left,
        }
        for target in audit.targets:
            yield {**opt_out, **_target_columns(target)}


def _target_columns(target: TargetOutcome) -> dict[str, Any]:
    other = {name: value for name, value in target.evidence.items() if name not in EVIDENCE_FIELDS}
    return {
        "target": target.name,
        "provider": target.provider,
        "account": target.account,
        "list": target.list,
        "status": target.status,
        "attempts": target.attempts,
        "error_code": target.error_code,
        "settled_at": target.settled_at,
        "target_business_days_taken": target.business_days_taken,
        **{f"evidence_{name}": target.evidence.get(name) for name in EVIDENCE_FIELDS},
        "evidence_other": json.dumps(other, sort_keys=True) if other else None,
    }


def spreadsheet_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as it is: numbers stay numbers, text stays text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
