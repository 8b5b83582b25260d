"""The deadline watch on a seeded ledger (moto, the table and index from template.yaml),
at a fixed "now": its figures, its one Query per receipt day, its masked log lines and
its EMF metrics."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import optout_relay.watch as watch_module
import pytest
from moto import mock_aws
from optout_relay.aws.opt_out_index import INDEX_NAME, OptOutIndex
from optout_relay.watcher import DeadlineWatcher
from optout_relay_dev.lambda_context import LocalLambdaContext
from optout_relay_dev.local_stack import create_local_stack

from tests.ledger_seed import SeedTarget, opt_out_items, put_items

# Friday 2026-11-20, 10:00 in New York (Veterans Day, Wed 2026-11-11, was a holiday).
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
LOOKBACK_DAYS = 60
TRACKLY = "trackly-main#+18005551234"
TATANGO = "tatango-main#4242"

# Deadline Mon 2026-11-23: one business day left, one target still retrying.
DUE_SOON = ("+12065550101", "crm-7775550101", datetime(2026, 11, 6, 14, 0, tzinfo=UTC))
# Deadline Tue 2026-11-17: three business days ago, its only target retrying.
OVERDUE = ("+12065550102", "crm-7775550102", datetime(2026, 11, 2, 13, 0, tzinfo=UTC))
# Deadline Fri 2026-12-04 (Thanksgiving in between): nine business days left.
RECENT = ("+12065550103", "crm-7775550103", datetime(2026, 11, 19, 20, 0, tzinfo=UTC))


def seeded_ledger() -> list[dict[str, Any]]:
    phone, event_id, received = DUE_SOON
    items = opt_out_items(
        phone,
        event_id,
        received,
        [SeedTarget(TRACKLY, "unsubscribed"), SeedTarget(TATANGO, "retrying", error_code="http_503")],
        fan_out=True,
    )
    items += opt_out_items(  # complete, received the same day
        "+12065550104",
        "crm-7775550104",
        received,
        [SeedTarget(TRACKLY, "not_subscribed"), SeedTarget(TATANGO, "unsubscribed", retried=True)],
        fan_out=True,
    )
    phone, event_id, received = OVERDUE
    items += opt_out_items(
        phone,
        event_id,
        received,
        [SeedTarget(TATANGO, "retrying", error_code="secret_malformed")],
        fan_out=False,
    )
    items += opt_out_items(  # complete, received the same day
        "+12065550105", "crm-7775550105", received, [SeedTarget(TATANGO, "unsubscribed")], fan_out=False
    )
    phone, event_id, received = RECENT
    items += opt_out_items(phone, event_id, received, [SeedTarget(TRACKLY, "retrying")], fan_out=False)
    items += opt_out_items(  # open, but received before the look back: not read
        "+12065550106",
        "crm-7775550106",
        NOW - timedelta(days=LOOKBACK_DAYS + 5),
        [SeedTarget(TRACKLY, "retrying", error_code="http_500")],
        fan_out=False,
    )
    return items


class CountingClient:
    """A DynamoDB client that records every call it passes on."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return method(**kwargs)

        return call


@dataclass
class Ledger:
    dynamodb: CountingClient
    table_name: str

    def watcher(self, page_size: int | None = None) -> DeadlineWatcher:
        index = OptOutIndex(self.table_name, dynamodb=self.dynamodb, page_size=page_size)
        return DeadlineWatcher(index, LOOKBACK_DAYS, clock=lambda: NOW)


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        stack = create_local_stack(session, secrets={}, prefix="watch-test")
        client = session.client("dynamodb")
        put_items(client, stack.table_name, seeded_ledger())
        yield Ledger(CountingClient(client), stack.table_name)


def test_figures_for_open_due_soon_and_overdue_opt_outs(ledger: Ledger) -> None:
    figures = ledger.watcher().run()

    assert figures.metrics() == {
        "OptOutsOpen": 3,
        "OptOutsDueSoon": 1,
        "OptOutsOverdue": 1,
        "MostUrgentBusinessDaysLeft": -3,
    }
    overdue, due_soon = figures.at_risk
    assert (overdue.record.event_id, overdue.business_days_left, overdue.overdue) == (OVERDUE[1], -3, True)
    assert [(t.name, t.error_code) for t in overdue.record.unsettled] == [(TATANGO, "secret_malformed")]
    assert (due_soon.record.event_id, due_soon.business_days_left, due_soon.overdue) == (
        DUE_SOON[1],
        1,
        False,
    )
    assert [(t.name, t.status, t.error_code) for t in due_soon.record.unsettled] == [
        (TATANGO, "retrying", "http_503")
    ]


def test_one_query_per_receipt_day_on_the_index_never_a_scan(ledger: Ledger) -> None:
    ledger.watcher(page_size=2).run()

    assert {name for name, _ in ledger.dynamodb.calls} == {"query"}
    assert all(call["IndexName"] == INDEX_NAME for _, call in ledger.dynamodb.calls)
    first_pages = [call for _, call in ledger.dynamodb.calls if "ExclusiveStartKey" not in call]
    days = [call["ExpressionAttributeValues"][":day"]["S"] for call in first_pages]
    expected = [str(date(2026, 11, 20) - timedelta(days=back)) for back in range(LOOKBACK_DAYS, -1, -1)]
    assert days == expected
    pages_of_a_busy_day = [
        call
        for _, call in ledger.dynamodb.calls
        if call["ExpressionAttributeValues"][":day"]["S"] == "2026-11-06"
    ]
    assert len(pages_of_a_busy_day) >= 3  # six items, two a page: one Query, paginated


def test_the_handler_publishes_emf_metrics_and_logs_each_opt_out_at_risk_masked(
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
    captured_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(watch_module, "watcher", ledger.watcher())

    returned = watch_module.lambda_handler({}, LocalLambdaContext(function_name="deadline-watch"))

    assert returned["OptOutsOverdue"] == 1
    [emf] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "OptOutRelay"
    assert emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert emf["service"] == "optout-relay"
    published = {name: emf[name] for name in returned}
    assert published == {
        "OptOutsOpen": [3.0],
        "OptOutsDueSoon": [1.0],
        "OptOutsOverdue": [1.0],
        "MostUrgentBusinessDaysLeft": [-3.0],
    }

    text = captured_logs.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    at_risk = {line["message"]: line for line in lines if line["level"] == "WARNING"}
    overdue = at_risk["Opt-out overdue"]
    assert (overdue["event_id"], overdue["phone"]) == ("crm-***0102", "***0102")
    assert (overdue["business_days_left"], overdue["deadline_at"]) == (-3, "2026-11-18T04:59:59.999Z")
    assert overdue["unsettled_targets"] == [
        {"target": TATANGO, "status": "retrying", "last_error_code": "secret_malformed"}
    ]
    due_soon = at_risk["Opt-out due within 2 business days"]
    assert (due_soon["event_id"], due_soon["phone"], due_soon["business_days_left"]) == (
        "crm-***0101",
        "***0101",
        1,
    )
    assert due_soon["unsettled_targets"] == [
        {"target": TATANGO, "status": "retrying", "last_error_code": "http_503"}
    ]
    summary = next(line for line in lines if line["message"] == "Deadline watch")
    assert summary["OptOutsOpen"] == 3
    for secret in ("2065550101", "2065550102", "7775550101", "7775550102", "8005551234"):
        assert secret not in text
