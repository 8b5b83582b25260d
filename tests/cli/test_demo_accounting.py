"""The demo's accounting, on ledger rows and dead letters shaped as the relay writes them
(issue 10's contract): every message settled or in the DLQ, whole or at a target, and
every fan-out complete by its summary."""

from __future__ import annotations

import json
from typing import Any

from optout_relay.domain.model import target_id
from optout_relay.domain.phone import normalise_phone
from optout_relay.domain.targets import Scope, TargetsDocument
from optout_relay_dev.cli.dead_letters import DeadLetter
from optout_relay_dev.cli.demo_accounting import Expected, Published, account, expectations, keys_to_read
from optout_relay_dev.cli.demo_data import build_scenario
from optout_relay_dev.cli.event_reading import ReadEvent
from optout_relay_dev.cli.targets_access import parse_document

from .fanout_items import summary_item, target_row

PHONE = normalise_phone("+12065550100", "US")


def demo_document() -> TargetsDocument:
    return parse_document(build_scenario(1, 1).targets_document, "US", version=1)


def fan_out(event_id: str, document: TargetsDocument, scope: Scope | None = None) -> Expected:
    event = ReadEvent(event_id, PHONE, scope or Scope.everywhere())
    message = Published(f"m-{event_id}", json.dumps(event.body), "everywhere")
    return Expected(
        message, event, tuple(t.name for t in event.targets(document)), scope=event.scope.kind.value
    )


def letter(message_id: str, code: str, target: str | None = None) -> DeadLetter:
    return DeadLetter(
        message_id=f"dlq-{message_id}",
        receipt_handle="r",
        body="{}",
        attributes={"error_code": code},
        message_attributes={},
        sent_at=None,
        receive_count=1,
        target=target,
        target_id=target_id(target) if target else None,
        account=target.split("#")[0] if target else None,
        error_code=code,
        source_message_id=message_id,
    )


def rows_for(expected: Expected, statuses: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Ledger rows by key: each target's status (default not_subscribed); "" leaves a target out."""
    rows = {}
    assert expected.event is not None
    for name, key in zip(expected.targets, expected.target_keys(), strict=True):
        status = statuses.get(name, "not_subscribed")
        if status:
            account, _, listed = name.partition("#")
            row = target_row(PHONE.e164, expected.event.event_id, account, "tatango", listed, status)
            rows[key] = {**row, "target": key}
    return rows


def summary_for(expected: Expected, settled: int) -> dict[tuple[str, str], dict[str, Any]]:
    assert expected.event is not None and expected.summary_key is not None
    return {
        expected.summary_key: summary_item(
            PHONE.e164, expected.event.event_id, "everywhere", expected.targets, settled
        )
    }


def test_the_demo_document_gives_an_everywhere_event_every_list() -> None:
    document = demo_document()
    expected = fan_out("f-1", document)
    assert len(expected.targets) == document.list_count == 14
    assert "tatango-brand-b#4333" in expected.targets  # the retired list is still a target
    narrowed = fan_out("f-2", document, Scope.everywhere(["marketing"]))
    assert len(narrowed.targets) == 4  # one marketing list per account
    targets, summaries = keys_to_read([expected, narrowed])
    assert len(targets) == 18 and summaries == {(PHONE.e164, "~summary#f-1"), (PHONE.e164, "~summary#f-2")}


def test_a_complete_fan_out_with_one_target_dead_lettered_is_accounted_for() -> None:
    expected = fan_out("f-1", demo_document())
    rows = rows_for(expected, {"trackly#+18005550100": "unsubscribed", "tatango-brand-b#4333": "rejected"})
    letters = [letter("m-f-1", "list_not_found", "tatango-brand-b#4333")]

    accounting = account([expected], rows, summary_for(expected, 14), letters)

    assert accounting.complete and accounting.unaccounted == []
    assert (accounting.settled, accounting.dead_lettered) == (0, 1)
    assert (accounting.targets_settled, accounting.targets_dead_lettered) == (13, 1)
    [fan] = accounting.fan_outs
    assert fan.complete and fan.targets == 14
    assert fan.outcomes == {"unsubscribed": 1, "not_subscribed": 12, "dead_lettered": 1}


def test_a_fan_out_with_every_target_settled() -> None:
    expected = fan_out("f-1", demo_document(), Scope.of_provider("trackly", purposes=["marketing"]))
    accounting = account([expected], rows_for(expected, {}), summary_for(expected, 2), [])
    assert (accounting.settled, accounting.fan_outs_complete, accounting.fan_outs[0].targets) == (1, 1, 2)


def test_a_target_with_no_outcome_or_an_incomplete_summary_is_reported() -> None:
    document = demo_document()
    missing = fan_out("f-1", document)
    behind = fan_out("f-2", document)
    rows = {**rows_for(missing, {"trackly#+18005550100": ""}), **rows_for(behind, {})}
    summaries = {**summary_for(missing, 14), **summary_for(behind, 13)}

    accounting = account([missing, behind], rows, summaries, [])

    assert not accounting.complete
    why = {item["message_id"]: item["why"] for item in accounting.unaccounted}
    assert why["m-f-1"] == "1 target(s) missing (no row)"
    assert why["m-f-2"].startswith("fan-out not complete (summary: {'targets': 14, 'settled': 13")
    assert accounting.fan_outs_complete == 1


def test_a_fan_out_refused_whole_is_in_the_dlq_and_not_complete() -> None:
    expected = fan_out("f-1", demo_document())
    accounting = account([expected], {}, {}, [letter("m-f-1", "no_targets_document")])
    assert accounting.complete and accounting.dead_lettered == 1
    [fan] = accounting.fan_outs
    assert fan.refused == "no_targets_document" and not fan.complete


def test_one_list_events_are_keyed_by_the_account_that_holds_the_list() -> None:
    document = demo_document()
    bodies = [
        {"provider": "tatango", "phone_number": "+12065550100", "list_id": 4245, "event_id": "s-1"},
        {"provider": "tatango", "phone_number": "+12065550100", "list_id": 4332, "event_id": "s-2"},
        {"provider": "trackly", "phone_number": "555-0100", "list_number": "+18005550100", "event_id": "s-3"},
    ]
    published = [Published(f"m-{n}", json.dumps(body), "subscribed") for n, body in enumerate(bodies)]

    held, unknown, invalid = expectations(published, document, "US")

    assert held.targets == ("tatango-brand-b#4245",)  # a brand list: its account
    assert unknown.targets == ("tatango#4332",)  # in no account: the provider's default one
    assert invalid.event is None and invalid.refusal == "invalid_phone"
    rows = {
        held.target_keys()[0]: {"status": "unsubscribed"},
        unknown.target_keys()[0]: {"status": "rejected"},
    }
    letters = [letter("m-1", "list_not_found", "tatango#4332"), letter("m-2", "invalid_phone")]
    accounting = account([held, unknown, invalid], rows, {}, letters)
    assert (accounting.settled, accounting.dead_lettered, accounting.unaccounted) == (1, 2, [])
    assert accounting.fan_outs == []
