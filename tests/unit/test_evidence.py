"""The provider's evidence: what is kept, how it is read, and that it travels with the answer
to the ledger, also when the answer has to be carried by a copy of the message."""

from __future__ import annotations

import json

import pytest
from optout_relay.domain.confirmation import Confirmation, carried, carry
from optout_relay.domain.evidence import (
    MAX_REQUEST_ID,
    frozen_evidence,
    http_date_utc,
    instant_utc,
    request_id_from,
)
from optout_relay.domain.model import CallResult, Status
from optout_relay.providers.http import HttpResponse

from tests.unit.test_record_isolation import THROTTLED
from tests.unit.test_relay import KEY, World

EVIDENCE = {
    "http_status": 200,
    "provider_date": "2025-12-31T23:30:00.000Z",
    "request_id": "req-7f3a",
    "unsubscribed": True,
}


def test_only_known_fields_of_their_own_form_are_kept() -> None:
    kept = frozen_evidence(
        {
            **EVIDENCE,
            "opted_out_at": "2025-12-31 23:30",  # not an instant as the ledger writes them
            "api_key": "trk_secret",
            "http_status_text": "OK",
        }
    )
    assert kept == EVIDENCE
    assert frozen_evidence({"http_status": True, "unsubscribed": 1, "request_id": "a b"}) == {}
    assert frozen_evidence({"http_status": 99, "provider_date": None}) == {}


def test_evidence_cannot_be_changed_and_is_not_what_makes_two_answers_equal() -> None:
    result = CallResult(Status.UNSUBSCRIBED, 200, dict(EVIDENCE))
    with pytest.raises(TypeError):
        result.evidence["request_id"] = "forged"  # type: ignore[index]
    assert result == CallResult(Status.UNSUBSCRIBED, 200)
    assert result.evidence == EVIDENCE and CallResult(Status.UNSUBSCRIBED, 200).evidence == {}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("Wed, 31 Dec 2025 23:30:00 GMT", "2025-12-31T23:30:00.000Z", id="imf-fixdate"),
        pytest.param("Wednesday, 31-Dec-25 23:30:00 GMT", "2025-12-31T23:30:00.000Z", id="rfc850"),
        pytest.param("Wed Dec 31 23:30:00 2025", "2025-12-31T23:30:00.000Z", id="asctime"),
        pytest.param("Thu, 01 Jan 2026 00:30:00 +0100", "2025-12-31T23:30:00.000Z", id="offset"),
        pytest.param("yesterday", None, id="unreadable"),
        pytest.param("Wed, 31 Dec 2025 25:30:00 GMT", None, id="no-such-hour"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_the_date_header_reads_as_a_utc_instant(header: str | None, expected: str | None) -> None:
    assert http_date_utc(header) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-18T18:29:16Z", "2025-06-18T18:29:16.000Z"),
        ("2025-06-18T11:29:16-07:00", "2025-06-18T18:29:16.000Z"),
        ("2025-12-31T15:30:00-08:00", "2025-12-31T23:30:00.000Z"),
        ("2026-01-01T05:00:00.250+05:30", "2025-12-31T23:30:00.250Z"),
        ("2025-06-18T18:29:16+00:00", "2025-06-18T18:29:16.000Z"),
    ],
)
def test_tatango_timestamps_in_any_offset_read_as_one_utc_instant(text: str, expected: str) -> None:
    assert instant_utc(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2025-06-18T18:29:16",  # no offset: its hour would be a guess
        "2025-06-18",
        "2025-13-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "not a time",
        "2025-06-18T18:29:16Z" + " " * 80,
        None,
        1750271356,
    ],
)
def test_an_unreadable_timestamp_is_left_out(value: object) -> None:
    assert instant_utc(value) is None


def test_a_request_id_is_found_under_its_common_names_and_kept_safe() -> None:
    assert request_id_from({"x-request-id": "req-7f3a"}) == "req-7f3a"
    assert request_id_from({"x-amzn-requestid": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"}) == (
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    )
    assert request_id_from({"request-id": "Root=1-5759e988"}) == "Root=1-5759e988"
    assert request_id_from({"x-request-id": "a b<script>\r\n"}) == "abscript"
    assert request_id_from({"x-request-id": "r" * 500}) == "r" * MAX_REQUEST_ID
    assert request_id_from({"x-request-id": " <> ", "request-id": "second"}) == "second"
    assert request_id_from({"content-type": "application/json"}) is None


def test_a_request_id_that_holds_a_secret_is_left_out() -> None:
    secret = "trk_" + "s" * 32
    assert request_id_from({"x-request-id": f"echo-{secret}"}, [secret]) is None
    assert request_id_from({"x-request-id": f"echo {secret[:10]} {secret[10:]}"}, [secret]) is None
    assert request_id_from({"x-request-id": "req-1"}, [None, secret]) == "req-1"


def test_a_response_without_date_or_request_id_has_its_status_only() -> None:
    assert HttpResponse(404, {}, b"").evidence([]) == {"http_status": 404}


def test_the_answers_evidence_is_written_with_it() -> None:
    world = World(CallResult(Status.UNSUBSCRIBED, 200, EVIDENCE))
    world.handle()
    assert world.ledger.only()["evidence"] == EVIDENCE


def test_evidence_travels_with_an_answer_the_ledger_could_not_take() -> None:
    world = World(CallResult(Status.UNSUBSCRIBED, 200, EVIDENCE))
    world.ledger.failures = [THROTTLED] * 3
    world.handle()
    (copy,) = world.queue.carried
    assert world.ledger.items == {}

    world.handle(receive_count=1, pinned_event_id="ev-1", carried_confirmation=copy)

    assert world.ledger.only()["evidence"] == EVIDENCE and len(world.provider.calls) == 1


def test_carried_evidence_keeps_only_what_evidence_may_hold() -> None:
    text = carry([Confirmation(KEY[1], CallResult(Status.UNSUBSCRIBED, 200, EVIDENCE), 1)])
    document = json.loads(text)
    document["answers"][KEY[1]]["evidence"].update(api_key="trk_secret", request_id="two words")
    (confirmation,) = carried(json.dumps(document)).values()
    assert confirmation.result.evidence == {k: v for k, v in EVIDENCE.items() if k != "request_id"}

    del document["answers"][KEY[1]]["evidence"]  # a copy carried before evidence was
    (older,) = carried(json.dumps(document)).values()
    assert older.result == CallResult(Status.UNSUBSCRIBED, 200) and older.result.evidence == {}
