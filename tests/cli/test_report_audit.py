"""The audit of a seeded ledger without AWS: opt-outs judged from their items, and the
human table of a long report."""

from __future__ import annotations

import io
from datetime import date

from optout_relay.domain.timestamps import parse_utc
from optout_relay_dev.cli.audit import audit_opt_outs, totals_of
from optout_relay_dev.cli.report_formats import Report
from optout_relay_dev.cli.report_table import report_table
from rich.console import Console

from .ledger_seed import items_of
from .report_scenario import EXPECTED_VERDICTS, IN_PERIOD, NOW


def _rendered(limit: int) -> str:
    items = [item for opt_out in IN_PERIOD for item in items_of(opt_out)]
    audits = audit_opt_outs(items, parse_utc(NOW))
    report = Report(
        date(2026, 11, 2), date(2026, 11, 20), parse_utc(NOW), "a test", None, audits, totals_of(audits)
    )
    buffer = io.StringIO()
    Console(file=buffer, width=120, color_system=None).print(report_table(report, limit=limit))
    return buffer.getvalue()


def test_a_long_table_lists_the_opt_outs_that_need_attention() -> None:
    everything = _rendered(limit=8)
    assert all(event_id in everything for event_id in EXPECTED_VERDICTS) and "not listed" not in everything

    exceptions = _rendered(limit=6)  # 5 not complete within their deadline: all of them shown
    assert "3 more opt-out(s) not listed here, all of them complete within their deadline" in exceptions
    shown = {event_id for event_id in EXPECTED_VERDICTS if event_id in exceptions}
    assert shown == {
        e for e, (verdict, _, _) in EXPECTED_VERDICTS.items() if verdict != "complete_within_deadline"
    }

    first_three = _rendered(limit=3)
    assert "5 more opt-out(s) not listed here (the table shows at most 3)" in first_three
    assert "Received 8 · complete within deadline 3" in first_three  # the totals are always whole


def test_a_summary_not_yet_marked_complete_is_judged_from_its_targets() -> None:
    late, *_ = [o for o in IN_PERIOD if o.event_id == "e-fanout-late-weekend"]
    items = [item for item in items_of(late) if item.get("kind") != "summary"]
    summary = next(item for item in items_of(late) if item.get("kind") == "summary")
    unmarked = {k: v for k, v in summary.items() if k not in ("completed_at", "within_deadline")}
    [audit] = audit_opt_outs([*items, unmarked], parse_utc(NOW))
    assert (audit.verdict, audit.completed_at, audit.business_days_taken) == (
        "complete_late",
        "2026-11-21T15:00:00.000Z",
        10,
    )
