"""The evidence each adapter reads from its provider's answer, over loopback HTTP: the
simulators answer as the docs say (a ``Date`` header, Tatango's ``opted_out_at`` in
mixed offsets, no request id header); a plain loopback server plays the answers the
simulators never give (request ids, unreadable timestamps, a secret echoed back)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
from optout_relay.domain.evidence import Evidence
from optout_relay.domain.model import CallResult, Credentials, Phone, Status
from optout_relay.domain.phone import normalise_phone
from optout_relay.providers.http import HttpClient
from optout_relay.providers.tatango import TatangoAdapter
from optout_relay.providers.trackly import TracklyAdapter
from optout_relay_dev.simulators import (
    LoopbackHttpServer,
    Response,
    TatangoSimulator,
    TracklySimulator,
)

from tests.integration.test_provider_adapters import (
    OTHER_PHONE_E164,
    PHONE_E164,
    PHONE_NATIONAL,
    SECRETS,
    TATANGO_EMAIL,
    TATANGO_KEY,
    TATANGO_LIST,
    TRACKLY_KEY,
    TRACKLY_LIST,
    tatango_call,
    trackly_call,
)

# A year's last half hour in UTC: already the next day east of UTC, still the old one west.
NOW = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
NOW_ISO = "2025-12-31T23:30:00.000Z"
TRACKLY_CREDENTIALS = Credentials(api_key=TRACKLY_KEY)
TATANGO_CREDENTIALS = Credentials(api_key=TATANGO_KEY, login=TATANGO_EMAIL)


def assert_no_secret(evidence: Evidence) -> None:
    text = json.dumps(dict(evidence))
    for secret in (*SECRETS, TATANGO_EMAIL):
        assert secret not in text


@pytest.fixture
def phone() -> Phone:
    return normalise_phone(PHONE_E164, "US")


@pytest.fixture
def http() -> Iterator[HttpClient]:
    client = HttpClient(timeout_seconds=2.0)
    yield client
    client.pool.clear()


@pytest.fixture
def trackly() -> Iterator[TracklySimulator]:
    with TracklySimulator([TRACKLY_KEY], wall_clock=lambda: NOW) as simulator:
        simulator.subscribe(TRACKLY_LIST.value, PHONE_E164)
        yield simulator


def test_trackly_unsubscribed_true_keeps_the_flag_the_status_and_the_date(
    trackly: TracklySimulator, http: HttpClient, phone: Phone
) -> None:
    result = trackly_call(trackly, http)(phone)

    assert result.status is Status.UNSUBSCRIBED
    assert result.evidence == {"http_status": 200, "provider_date": NOW_ISO, "unsubscribed": True}
    assert_no_secret(result.evidence)


def test_trackly_unsubscribed_false_keeps_the_flag_too(trackly: TracklySimulator, http: HttpClient) -> None:
    other = normalise_phone(OTHER_PHONE_E164, "US")

    result = trackly_call(trackly, http)(other)

    assert result.status is Status.NOT_SUBSCRIBED
    assert result.evidence == {"http_status": 200, "provider_date": NOW_ISO, "unsubscribed": False}


@pytest.mark.parametrize(
    ("zone", "suffix"),
    [
        pytest.param(timezone(timedelta(hours=-7)), "-07:00", id="pacific-daylight"),
        pytest.param(timezone(timedelta(hours=-8)), "-08:00", id="pacific-standard"),
        pytest.param(UTC, "Z", id="utc"),
        pytest.param(timezone(timedelta(hours=5, minutes=30)), "+05:30", id="next-day-east"),
    ],
)
def test_tatango_opted_out_at_in_any_offset_is_kept_in_utc(
    http: HttpClient, phone: Phone, zone: tzinfo, suffix: str
) -> None:
    with TatangoSimulator(
        {TATANGO_EMAIL: TATANGO_KEY}, opted_out_zone=zone, wall_clock=lambda: NOW
    ) as tatango:
        tatango.subscribe(TATANGO_LIST.value, PHONE_NATIONAL)

        result = tatango_call(tatango, http)(phone)

        subscriber = tatango.subscriber(TATANGO_LIST.value, PHONE_NATIONAL)
    assert subscriber is not None
    assert subscriber.to_json(zone)["opted_out_at"].endswith(suffix)  # what went over the wire
    assert result == CallResult(Status.UNSUBSCRIBED, 200)
    assert result.evidence == {"http_status": 200, "provider_date": NOW_ISO, "opted_out_at": NOW_ISO}
    assert_no_secret(result.evidence)


def test_tatango_not_subscribed_404_keeps_its_status_and_date(http: HttpClient) -> None:
    other = normalise_phone(OTHER_PHONE_E164, "US")
    with TatangoSimulator({TATANGO_EMAIL: TATANGO_KEY}, wall_clock=lambda: NOW) as tatango:
        tatango.add_list(TATANGO_LIST.value)

        result = tatango_call(tatango, http)(other)

    assert result.status is Status.NOT_SUBSCRIBED
    assert result.evidence == {"http_status": 404, "provider_date": NOW_ISO}


def test_the_simulators_date_their_answers_by_the_current_time(http: HttpClient, phone: Phone) -> None:
    """Without a pinned clock the simulators' ``Date`` is now (to the second, as HTTP dates are)."""
    with TracklySimulator([TRACKLY_KEY]) as trackly:
        before = datetime.now(UTC).replace(microsecond=0)
        result = trackly_call(trackly, http)(phone)
        after = datetime.now(UTC)

    provider_date = datetime.fromisoformat(str(result.evidence["provider_date"]))
    assert before <= provider_date <= after


# Answers the simulators never give.


def answering(response: Response) -> LoopbackHttpServer:
    return LoopbackHttpServer(lambda request: response)


@pytest.mark.parametrize(
    ("header", "value", "kept"),
    [
        ("X-Request-Id", "3f1c2a9e-5b7d-4c1e-9a0b-2d6f8e4a1c3b", "3f1c2a9e-5b7d-4c1e-9a0b-2d6f8e4a1c3b"),
        ("X-Amzn-RequestId", "c6af9ac6-7b61-11e6-9a41-93e812345678", "c6af9ac6-7b61-11e6-9a41-93e812345678"),
        ("Request-Id", "req_01HZY", "req_01HZY"),
        ("X-Request-Id", "two words;\tand=more", "twowordsand=more"),
        ("X-Request-Id", "x" * 300, "x" * 128),
    ],
)
def test_a_request_id_header_is_kept_safe_and_short(
    http: HttpClient, phone: Phone, header: str, value: str, kept: str
) -> None:
    response = Response.json(200, {"success": True, "unsubscribed": True}).with_header(header, value)
    with answering(response) as server:
        result = TracklyAdapter(server.base_url, http).unsubscribe(phone, TRACKLY_LIST, TRACKLY_CREDENTIALS)

    assert result.evidence["request_id"] == kept
    assert set(result.evidence) == {"http_status", "provider_date", "request_id", "unsubscribed"}


def test_a_date_header_the_provider_sets_is_the_one_kept(http: HttpClient, phone: Phone) -> None:
    response = Response.json(200, {"success": True, "unsubscribed": True}).with_header(
        "Date", "Thu, 01 Jan 2026 00:30:00 +0100"
    )
    with answering(response) as server:
        result = TracklyAdapter(server.base_url, http).unsubscribe(phone, TRACKLY_LIST, TRACKLY_CREDENTIALS)

    assert result.evidence["provider_date"] == NOW_ISO


@pytest.mark.parametrize(
    "opted_out_at",
    ["2025-12-31T23:30:00", "2025-13-01T00:00:00Z", "last Tuesday", "", None, 1767223800, {"at": NOW_ISO}],
)
def test_an_unreadable_opted_out_at_is_left_out_and_the_unsubscribe_stands(
    http: HttpClient, phone: Phone, opted_out_at: object
) -> None:
    document = {"status": "Subscriber unsubscribed", "subscriber": {"opted_out_at": opted_out_at}}
    with answering(Response.json(200, document)) as server:
        result = TatangoAdapter(server.base_url, http).unsubscribe(phone, TATANGO_LIST, TATANGO_CREDENTIALS)

    assert result.status is Status.UNSUBSCRIBED
    assert "opted_out_at" not in result.evidence and result.evidence["http_status"] == 200


@pytest.mark.parametrize(
    ("provider", "echoed"),
    [("trackly", TRACKLY_KEY), ("tatango", TATANGO_KEY), ("tatango", TATANGO_EMAIL)],
)
def test_a_request_id_echoing_a_credential_is_never_kept(
    http: HttpClient, phone: Phone, provider: str, echoed: str
) -> None:
    body: dict[str, object] = {"success": True, "unsubscribed": True}
    if provider == "tatango":
        body = {"status": "Subscriber unsubscribed", "subscriber": {"opted_out_at": NOW_ISO}}
    response = Response.json(200, body).with_header("X-Request-Id", f"req-{echoed}-1")
    with answering(response) as server:
        if provider == "trackly":
            adapter = TracklyAdapter(server.base_url, http)
            result = adapter.unsubscribe(phone, TRACKLY_LIST, TRACKLY_CREDENTIALS)
        else:
            result = TatangoAdapter(server.base_url, http).unsubscribe(
                phone, TATANGO_LIST, TATANGO_CREDENTIALS
            )

    assert result.status is Status.UNSUBSCRIBED
    assert "request_id" not in result.evidence and "provider_date" in result.evidence
    assert_no_secret(result.evidence)
