"""`optout-relay watch` on the local emulation: the deadline watch, once, at a given instant."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.ledger_seed import SeedTarget, opt_out_items, put_items

from .conftest import Cli, Local

NOW = "2026-11-20T15:00:00Z"  # a Friday


def seed(local: Local) -> None:
    items = opt_out_items(
        "+12065550101",
        "crm-42",
        datetime(2026, 11, 6, 14, 0, tzinfo=UTC),  # deadline Monday 2026-11-23
        [
            SeedTarget("trackly-main#+18005550100", "unsubscribed"),
            SeedTarget("tatango-main#4242", "retrying", error_code="http_503"),
        ],
        fan_out=True,
    )
    items += opt_out_items(
        "+12065550102",
        "crm-43",
        datetime(2026, 11, 2, 13, 0, tzinfo=UTC),  # deadline Tuesday 2026-11-17
        [SeedTarget("tatango-main#4242", None)],
        fan_out=True,
    )
    put_items(local.state.client("dynamodb"), local.state.table_name, items)


def test_watch_lists_the_opt_outs_at_risk_in_full(cli: Cli, local: Local) -> None:
    seed(local)

    document = cli.json("watch", "--at", NOW)

    assert document["figures"] == {
        "OptOutsOpen": 2,
        "OptOutsDueSoon": 1,
        "OptOutsOverdue": 1,
        "MostUrgentBusinessDaysLeft": -3,
    }
    overdue, due_soon = document["at_risk"]
    assert (overdue["phone_number"], overdue["event_id"], overdue["overdue"]) == (
        "+12065550102",
        "crm-43",
        True,
    )
    assert overdue["unsettled_targets"] == [
        {"target": "tatango-main#4242", "status": None, "last_error_code": None}
    ]
    assert (due_soon["business_days_left"], due_soon["unsettled_targets"][0]["last_error_code"]) == (
        1,
        "http_503",
    )

    table = cli("watch", "--at", NOW)
    assert table.exit_code == 0, table.output
    assert "2 open, 1 due within 2 business days, 1 overdue" in table.stdout
    assert "tatango-main#4242: retrying (http_503)" in table.stdout
    assert "tatango-main#4242: not recorded" in table.stdout


def test_watch_of_an_empty_ledger_and_a_bad_instant(cli: Cli, local: Local) -> None:
    result = cli("watch")
    assert result.exit_code == 0, result.output
    assert "0 open, 0 due within 2 business days, 0 overdue" in result.stdout
    assert "Most urgent" not in result.stdout

    bad = cli("watch", "--at", "friday")
    assert bad.exit_code == 1
    assert "--at must be an ISO 8601 instant" in bad.output
