"""The real provider adapters against the provider simulators, over loopback HTTP."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import urllib3
from optout_relay.domain.model import CallResult, Credentials, ListRef, Phone, Status
from optout_relay.domain.phone import normalise_phone
from optout_relay.errors import CredentialsRejected, PermanentError, RelayError, TransientError
from optout_relay.providers.http import HttpClient
from optout_relay.providers.tatango import TatangoAdapter
from optout_relay.providers.trackly import TracklyAdapter
from optout_relay_dev.simulators import (
    Fault,
    FaultInjector,
    FaultKind,
    FaultRates,
    LoopbackHttpServer,
    ProviderSimulator,
    RateLimit,
    Request,
    Response,
    TatangoSimulator,
    TracklySimulator,
)
from optout_relay_dev.simulators.tatango import STATUS_UNSUBSCRIBED_OLD

PHONE_E164 = "+12065551111"
PHONE_NATIONAL = "2065551111"
OTHER_PHONE_E164 = "+12065552222"
TRACKLY_KEY = "trk_" + "k3Y" * 10 + "zz"
TRACKLY_LIST = ListRef("list_number", "+18005551234")
TATANGO_EMAIL = "relay@example.com"
TATANGO_KEY = "tatango-secret-api-key-0123456789"
TATANGO_LIST = ListRef("list_id", "123")
SECRETS = (TRACKLY_KEY, TATANGO_KEY, PHONE_E164, PHONE_NATIONAL)
CLIENT_TIMEOUT = 2.0
SHORT_TIMEOUT = 0.2
SLOW_SECONDS = 30.0  # far beyond SHORT_TIMEOUT; stop() cuts it short, so tests never wait it out


@pytest.fixture
def phone() -> Phone:
    return normalise_phone(PHONE_E164, "US")


@pytest.fixture
def http() -> Iterator[HttpClient]:
    client = HttpClient(timeout_seconds=CLIENT_TIMEOUT)
    yield client
    client.pool.clear()


@pytest.fixture
def trackly() -> Iterator[TracklySimulator]:
    with TracklySimulator([TRACKLY_KEY]) as simulator:
        simulator.subscribe(TRACKLY_LIST.value, PHONE_E164)
        yield simulator


@pytest.fixture
def tatango() -> Iterator[TatangoSimulator]:
    with TatangoSimulator({TATANGO_EMAIL: TATANGO_KEY}) as simulator:
        simulator.subscribe(TATANGO_LIST.value, PHONE_NATIONAL)
        yield simulator


def trackly_call(
    simulator: TracklySimulator, http: HttpClient, key: str = TRACKLY_KEY
) -> Callable[[Phone], CallResult]:
    adapter = TracklyAdapter(simulator.base_url, http)
    return lambda phone: adapter.unsubscribe(phone, TRACKLY_LIST, Credentials(api_key=key))


def tatango_call(
    simulator: TatangoSimulator, http: HttpClient, key: str = TATANGO_KEY
) -> Callable[[Phone], CallResult]:
    adapter = TatangoAdapter(simulator.base_url, http)
    credentials = Credentials(api_key=key, login=TATANGO_EMAIL)
    return lambda phone: adapter.unsubscribe(phone, TATANGO_LIST, credentials)


def assert_discreet(error: BaseException) -> None:
    """Neither an API key nor the full phone number may reach an error's text."""
    for text in (str(error), repr(error), getattr(error, "message", "")):
        for secret in SECRETS:
            assert secret not in text


def statuses(simulator: ProviderSimulator) -> list[int | None]:
    return [call.status for call in simulator.calls]


# One provider, whichever: the fault tests run against both.
@dataclass
class Target:
    simulator: TracklySimulator | TatangoSimulator
    call: Callable[[Phone], CallResult]
    is_subscribed: Callable[[], bool]


def make_target(name: str, http: HttpClient) -> Target:
    if name == "trackly":
        trackly = TracklySimulator([TRACKLY_KEY]).start()
        trackly.subscribe(TRACKLY_LIST.value, PHONE_E164)
        return Target(
            trackly,
            trackly_call(trackly, http),
            lambda: trackly.is_subscribed(TRACKLY_LIST.value, PHONE_E164),
        )
    tatango = TatangoSimulator({TATANGO_EMAIL: TATANGO_KEY}).start()
    tatango.subscribe(TATANGO_LIST.value, PHONE_NATIONAL)
    return Target(
        tatango,
        tatango_call(tatango, http),
        lambda: tatango.is_subscribed(TATANGO_LIST.value, PHONE_NATIONAL),
    )


@pytest.fixture(params=["trackly", "tatango"])
def target(request: pytest.FixtureRequest, http: HttpClient) -> Iterator[Target]:
    target = make_target(request.param, http)
    yield target
    target.simulator.stop()


@pytest.fixture(params=["trackly", "tatango"])
def short_timeout_target(request: pytest.FixtureRequest) -> Iterator[Target]:
    http = HttpClient(timeout_seconds=SHORT_TIMEOUT)
    target = make_target(request.param, http)
    yield target
    target.simulator.stop()
    http.pool.clear()


# Trackly


def test_trackly_unsubscribes_an_active_contact_and_keeps_its_record(
    trackly: TracklySimulator, http: HttpClient, phone: Phone
) -> None:
    result = trackly_call(trackly, http)(phone)

    assert result == CallResult(Status.UNSUBSCRIBED, 200)
    assert not trackly.is_subscribed(TRACKLY_LIST.value, PHONE_E164)
    contact = trackly.contact(TRACKLY_LIST.value, PHONE_E164)
    assert contact is not None
    assert contact.unsubscribe_reason == "api"
    assert [(c.method, c.path, c.status, c.auth_accepted) for c in trackly.calls] == [
        ("DELETE", "/api/v2/contacts", 200, True)
    ]


@pytest.mark.parametrize(
    ("list_number", "subscribed_phone"),
    [
        pytest.param(TRACKLY_LIST.value, OTHER_PHONE_E164, id="not-on-list"),
        pytest.param("+18005559999", PHONE_E164, id="unknown-list"),
    ],
)
def test_trackly_unsubscribed_false_is_not_subscribed(
    http: HttpClient, phone: Phone, list_number: str, subscribed_phone: str
) -> None:
    with TracklySimulator([TRACKLY_KEY]) as trackly:
        trackly.subscribe(list_number, subscribed_phone)

        result = trackly_call(trackly, http)(phone)

        assert result == CallResult(Status.NOT_SUBSCRIBED, 200)
        assert trackly.is_subscribed(list_number, subscribed_phone)
        assert statuses(trackly) == [200]


def test_trackly_second_unsubscribe_is_not_subscribed(
    trackly: TracklySimulator, http: HttpClient, phone: Phone
) -> None:
    call = trackly_call(trackly, http)

    assert call(phone).status is Status.UNSUBSCRIBED
    assert call(phone) == CallResult(Status.NOT_SUBSCRIBED, 200)
    assert statuses(trackly) == [200, 200]


def test_trackly_rejected_key_raises_credentials_rejected(
    trackly: TracklySimulator, http: HttpClient, phone: Phone
) -> None:
    with pytest.raises(CredentialsRejected) as raised:
        trackly_call(trackly, http, key="trk_" + "0" * 32)(phone)

    assert raised.value.http_status == 401
    assert_discreet(raised.value)
    assert trackly.is_subscribed(TRACKLY_LIST.value, PHONE_E164)
    assert [(c.status, c.auth_accepted) for c in trackly.calls] == [(401, False)]


def test_trackly_key_rotation_refuses_the_old_key(
    trackly: TracklySimulator, http: HttpClient, phone: Phone
) -> None:
    new_key = "trk_" + "n" * 32
    trackly.rotate_key(new_key)

    with pytest.raises(CredentialsRejected) as raised:
        trackly_call(trackly, http)(phone)
    assert_discreet(raised.value)
    assert trackly_call(trackly, http, key=new_key)(phone).status is Status.UNSUBSCRIBED
    assert [c.auth_accepted for c in trackly.calls] == [False, True]


@pytest.mark.parametrize(
    ("bad_phone", "list_ref", "provider_code"),
    [
        pytest.param(
            Phone("12065551111", 1, PHONE_NATIONAL, "US"), TRACKLY_LIST, "invalid_phone", id="phone"
        ),
        pytest.param(None, ListRef("list_number", "18005551234"), "invalid_list_number", id="list"),
    ],
)
def test_trackly_400_is_permanent_provider_rejected(
    trackly: TracklySimulator,
    http: HttpClient,
    phone: Phone,
    bad_phone: Phone | None,
    list_ref: ListRef,
    provider_code: str,
) -> None:
    adapter = TracklyAdapter(trackly.base_url, http)

    with pytest.raises(PermanentError) as raised:
        adapter.unsubscribe(bad_phone or phone, list_ref, Credentials(api_key=TRACKLY_KEY))

    assert raised.value.code == "provider_rejected"
    assert raised.value.http_status == 400
    assert provider_code in raised.value.message
    assert_discreet(raised.value)
    assert trackly.is_subscribed(TRACKLY_LIST.value, PHONE_E164)


@pytest.mark.parametrize("code", [None, "account_suspended"])
def test_trackly_suspended_account_is_permanent_provider_forbidden(
    trackly: TracklySimulator, http: HttpClient, phone: Phone, code: str | None
) -> None:
    trackly.suspend(code=code)

    with pytest.raises(PermanentError) as raised:
        trackly_call(trackly, http)(phone)

    assert (raised.value.code, raised.value.http_status) == ("provider_forbidden", 403)
    assert_discreet(raised.value)
    assert trackly.is_subscribed(TRACKLY_LIST.value, PHONE_E164)
    assert [(c.status, c.auth_accepted) for c in trackly.calls] == [(403, True)]


def test_trackly_request_carries_e164_json_and_the_api_key(http: HttpClient, phone: Phone) -> None:
    seen: list[Request] = []

    def answer(request: Request) -> Response:
        seen.append(request)
        return Response.json(200, {"success": True, "unsubscribed": True})

    with LoopbackHttpServer(answer) as server:
        TracklyAdapter(server.base_url, http).unsubscribe(
            phone, TRACKLY_LIST, Credentials(api_key=TRACKLY_KEY)
        )

    (request,) = seen
    assert (request.method, request.path) == ("DELETE", "/api/v2/contacts")
    assert request.header("X-Api-Key") == TRACKLY_KEY
    assert request.header("Content-Type") == "application/json"
    assert json.loads(request.body) == {"phone_number": PHONE_E164, "list_number": "+18005551234"}


# Tatango


def test_tatango_unsubscribes_a_subscriber(tatango: TatangoSimulator, http: HttpClient, phone: Phone) -> None:
    result = tatango_call(tatango, http)(phone)

    assert result == CallResult(Status.UNSUBSCRIBED, 200)
    assert not tatango.is_subscribed(TATANGO_LIST.value, PHONE_NATIONAL)
    subscriber = tatango.subscriber(TATANGO_LIST.value, PHONE_NATIONAL)
    assert subscriber is not None
    assert subscriber.opted_out_at is not None
    assert [(c.method, c.path, c.status, c.auth_accepted) for c in tatango.calls] == [
        ("DELETE", f"/api/v2/lists/123/subscribers/{PHONE_NATIONAL}", 200, True)
    ]


def test_tatango_old_success_status_text_is_still_unsubscribed(
    tatango: TatangoSimulator, http: HttpClient, phone: Phone
) -> None:
    tatango.status_text = STATUS_UNSUBSCRIBED_OLD

    assert tatango_call(tatango, http)(phone) == CallResult(Status.UNSUBSCRIBED, 200)
    assert not tatango.is_subscribed(TATANGO_LIST.value, PHONE_NATIONAL)


def test_tatango_number_not_on_list_is_not_subscribed(tatango: TatangoSimulator, http: HttpClient) -> None:
    other = normalise_phone(OTHER_PHONE_E164, "US")

    assert tatango_call(tatango, http)(other) == CallResult(Status.NOT_SUBSCRIBED, 404)
    assert tatango.is_subscribed(TATANGO_LIST.value, PHONE_NATIONAL)
    assert statuses(tatango) == [404]


def test_tatango_second_unsubscribe_is_not_subscribed(
    tatango: TatangoSimulator, http: HttpClient, phone: Phone
) -> None:
    call = tatango_call(tatango, http)

    assert call(phone).status is Status.UNSUBSCRIBED
    assert call(phone) == CallResult(Status.NOT_SUBSCRIBED, 404)
    assert statuses(tatango) == [200, 404]


def test_tatango_unknown_list_is_permanent_list_not_found(
    tatango: TatangoSimulator, http: HttpClient, phone: Phone
) -> None:
    adapter = TatangoAdapter(tatango.base_url, http)
    credentials = Credentials(api_key=TATANGO_KEY, login=TATANGO_EMAIL)

    with pytest.raises(PermanentError) as raised:
        adapter.unsubscribe(phone, ListRef("list_id", "999"), credentials)

    assert (raised.value.code, raised.value.http_status) == ("list_not_found", 404)
    assert_discreet(raised.value)
    assert statuses(tatango) == [404]


@pytest.mark.parametrize(
    ("email", "key"),
    [
        pytest.param(TATANGO_EMAIL, "wrong-key", id="wrong-key"),
        pytest.param("someone@example.com", TATANGO_KEY, id="wrong-login"),
    ],
)
def test_tatango_authorization_failure_raises_credentials_rejected(
    tatango: TatangoSimulator, http: HttpClient, phone: Phone, email: str, key: str
) -> None:
    adapter = TatangoAdapter(tatango.base_url, http)

    with pytest.raises(CredentialsRejected) as raised:
        adapter.unsubscribe(phone, TATANGO_LIST, Credentials(api_key=key, login=email))

    assert raised.value.http_status == 401
    assert "API key authorization failure" in raised.value.message
    assert_discreet(raised.value)
    assert tatango.is_subscribed(TATANGO_LIST.value, PHONE_NATIONAL)
    assert [(c.status, c.auth_accepted) for c in tatango.calls] == [(401, False)]


def test_tatango_key_rotation_refuses_the_old_key(
    tatango: TatangoSimulator, http: HttpClient, phone: Phone
) -> None:
    tatango.rotate_key(TATANGO_EMAIL, "rotated-key")

    with pytest.raises(CredentialsRejected):
        tatango_call(tatango, http)(phone)
    assert tatango_call(tatango, http, key="rotated-key")(phone).status is Status.UNSUBSCRIBED
    assert [c.auth_accepted for c in tatango.calls] == [False, True]


def test_tatango_disabled_key_answering_401_is_credentials_rejected(
    tatango: TatangoSimulator, http: HttpClient, phone: Phone
) -> None:
    tatango.disable_key(TATANGO_EMAIL)

    with pytest.raises(CredentialsRejected) as raised:
        tatango_call(tatango, http)(phone)

    assert "This API key is disabled" in raised.value.message
    assert_discreet(raised.value)


def test_tatango_disabled_key_answering_403_is_permanent_provider_forbidden(
    http: HttpClient, phone: Phone
) -> None:
    with TatangoSimulator({TATANGO_EMAIL: TATANGO_KEY}, disabled_status=403) as tatango:
        tatango.subscribe(TATANGO_LIST.value, PHONE_NATIONAL)
        tatango.disable_key(TATANGO_EMAIL)

        with pytest.raises(PermanentError) as raised:
            tatango_call(tatango, http)(phone)

        assert (raised.value.code, raised.value.http_status) == ("provider_forbidden", 403)
        assert tatango.is_subscribed(TATANGO_LIST.value, PHONE_NATIONAL)


def test_tatango_firewall_html_403_is_permanent_provider_forbidden(
    tatango: TatangoSimulator, http: HttpClient, phone: Phone
) -> None:
    tatango.set_firewall(403)

    with pytest.raises(PermanentError) as raised:
        tatango_call(tatango, http)(phone)

    assert (raised.value.code, raised.value.http_status) == ("provider_forbidden", 403)
    assert "non-JSON body (text/html" in raised.value.message
    assert_discreet(raised.value)
    assert tatango.is_subscribed(TATANGO_LIST.value, PHONE_NATIONAL)
    assert [(c.status, c.auth_accepted) for c in tatango.calls] == [(403, None)]


def test_tatango_account_rate_limit_answers_429_with_retry_after(
    tatango: TatangoSimulator, http: HttpClient
) -> None:
    tatango.set_rate_limit(RateLimit(calls=2, window_seconds=60))
    numbers = ["+12065551111", "+12065552222", "+12065553333"]
    for number in numbers:
        tatango.subscribe(TATANGO_LIST.value, number)
    call = tatango_call(tatango, http)

    assert call(normalise_phone(numbers[0], "US")).status is Status.UNSUBSCRIBED
    assert call(normalise_phone(numbers[1], "US")).status is Status.UNSUBSCRIBED
    with pytest.raises(TransientError) as raised:
        call(normalise_phone(numbers[2], "US"))

    assert (raised.value.code, raised.value.http_status) == ("rate_limited", 429)
    assert raised.value.retry_after is not None
    assert 0 < raised.value.retry_after <= 60
    assert tatango.is_subscribed(TATANGO_LIST.value, numbers[2])
    assert statuses(tatango) == [200, 200, 429]


def test_tatango_rejects_a_subscriber_id_that_is_not_ten_digits(
    tatango: TatangoSimulator, http: HttpClient
) -> None:
    short = Phone("+1206555111", 1, "206555111", "US")

    with pytest.raises(PermanentError) as raised:
        tatango_call(tatango, http)(short)

    assert (raised.value.code, raised.value.http_status) == ("provider_rejected", 422)
    assert statuses(tatango) == [422]


def test_tatango_request_uses_national_number_list_id_and_basic_auth(http: HttpClient, phone: Phone) -> None:
    seen: list[Request] = []

    def answer(request: Request) -> Response:
        seen.append(request)
        return Response.json(200, {"status": "Subscriber unsubscribed", "subscriber": {}})

    with LoopbackHttpServer(answer) as server:
        adapter = TatangoAdapter(server.base_url, http)
        adapter.unsubscribe(phone, TATANGO_LIST, Credentials(api_key=TATANGO_KEY, login=TATANGO_EMAIL))

    (request,) = seen
    assert (request.method, request.path) == ("DELETE", "/api/v2/lists/123/subscribers/2065551111")
    expected = base64.b64encode(f"{TATANGO_EMAIL}:{TATANGO_KEY}".encode()).decode()
    assert request.header("Authorization") == f"Basic {expected}"
    assert request.body == b""


# Found while writing these tests: both fail against the current TatangoAdapter.


def test_tatango_html_404_from_a_wrong_base_url_is_not_read_as_not_subscribed(
    tatango: TatangoSimulator, http: HttpClient, phone: Phone
) -> None:
    """A 404 page with no Tatango error (a base URL with a stray path) must not settle the
    opt-out as not_subscribed: every opt-out would be silently dropped."""
    adapter = TatangoAdapter(tatango.base_url + "/app", http)
    credentials = Credentials(api_key=TATANGO_KEY, login=TATANGO_EMAIL)

    with pytest.raises(RelayError):
        adapter.unsubscribe(phone, TATANGO_LIST, credentials)
    assert tatango.is_subscribed(TATANGO_LIST.value, PHONE_NATIONAL)


def test_tatango_2xx_without_an_unsubscribed_subscriber_is_not_success(
    tatango: TatangoSimulator, http: HttpClient, phone: Phone
) -> None:
    """NOTES.md: decide by HTTP status and ``subscriber.opted_out_at``. A firewall challenge
    page (AWS WAF answers 202 with HTML) must not be recorded as an unsubscribe."""
    tatango.set_firewall(202)

    with pytest.raises(RelayError):
        tatango_call(tatango, http)(phone)
    assert tatango.is_subscribed(TATANGO_LIST.value, PHONE_NATIONAL)


# Faults, against both providers


@pytest.mark.parametrize(
    ("fault", "expected_retry_after"),
    [
        pytest.param(Fault.rate_limited("2"), (2.0, 2.0), id="seconds"),
        pytest.param(Fault.rate_limited(30, as_http_date=True), (28.0, 30.0), id="http-date"),
        pytest.param(Fault.rate_limited(datetime(2000, 1, 1, tzinfo=UTC)), (0.0, 0.0), id="past-date"),
        pytest.param(Fault.rate_limited(None), None, id="no-header"),
    ],
)
def test_429_is_transient_rate_limited_with_retry_after(
    target: Target,
    phone: Phone,
    fault: Fault,
    expected_retry_after: tuple[float, float] | None,
) -> None:
    target.simulator.script(fault)

    with pytest.raises(TransientError) as raised:
        target.call(phone)

    error = raised.value
    assert (error.code, error.http_status) == ("rate_limited", 429)
    if expected_retry_after is None:
        assert error.retry_after is None
    else:
        assert error.retry_after is not None
        assert expected_retry_after[0] <= error.retry_after <= expected_retry_after[1]
    assert_discreet(error)
    assert target.is_subscribed()
    assert [(c.status, c.fault) for c in target.simulator.calls] == [(429, FaultKind.RATE_LIMITED)]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient_provider_unavailable_and_the_retry_succeeds(
    target: Target, phone: Phone, status: int
) -> None:
    target.simulator.script(Fault.server_error(status))

    with pytest.raises(TransientError) as raised:
        target.call(phone)
    assert (raised.value.code, raised.value.http_status) == ("provider_unavailable", status)
    assert_discreet(raised.value)
    assert target.is_subscribed()

    assert target.call(phone).status is Status.UNSUBSCRIBED
    assert not target.is_subscribed()
    assert statuses(target.simulator) == [status, 200]


def test_dropped_connection_is_transient_connection_error(target: Target, phone: Phone) -> None:
    target.simulator.script(Fault.drop())

    with pytest.raises(TransientError) as raised:
        target.call(phone)

    assert raised.value.code == "connection_error"
    assert raised.value.http_status is None
    assert_discreet(raised.value)
    assert target.is_subscribed()
    assert [(c.status, c.fault) for c in target.simulator.calls] == [(None, FaultKind.DROP)]
    assert target.call(phone).status is Status.UNSUBSCRIBED


def test_slow_answer_is_transient_timeout(short_timeout_target: Target, phone: Phone) -> None:
    target = short_timeout_target
    target.simulator.script(Fault.slow(SLOW_SECONDS))

    with pytest.raises(TransientError) as raised:
        target.call(phone)
    target.simulator.stop()  # ends the slow answer before it does any work

    assert raised.value.code == "timeout"
    assert_discreet(raised.value)
    assert target.is_subscribed()
    assert [(c.status, c.fault) for c in target.simulator.calls] == [(None, FaultKind.SLOW)]


def test_scripted_faults_apply_in_order_then_calls_pass(target: Target, phone: Phone) -> None:
    target.simulator.script(Fault.server_error(503), Fault.passthrough(), Fault.rate_limited("1"))

    with pytest.raises(TransientError):
        target.call(phone)
    assert target.call(phone).status is Status.UNSUBSCRIBED
    with pytest.raises(TransientError):
        target.call(phone)
    assert target.call(phone).status is Status.NOT_SUBSCRIBED
    assert [c.fault for c in target.simulator.calls] == [
        FaultKind.SERVER_ERROR,
        None,
        FaultKind.RATE_LIMITED,
        None,
    ]
    assert target.simulator.faults.pending == 0


# The simulators themselves


def raw_request(
    simulator: ProviderSimulator, method: str, path: str, **kwargs: object
) -> urllib3.BaseHTTPResponse:
    return urllib3.request(
        method,
        simulator.base_url + path,
        retries=False,
        timeout=CLIENT_TIMEOUT,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"list_number": "+18005551234"}, "missing_phone_number"),
        ({"phone_number": PHONE_E164}, "missing_list_number"),
        ({"phone_number": "206-555-1111", "list_number": "+18005551234"}, "invalid_phone"),
        ({"phone_number": PHONE_E164, "list_number": "800555"}, "invalid_list_number"),
    ],
)
def test_trackly_simulator_validates_the_body(
    trackly: TracklySimulator, body: dict[str, str], code: str
) -> None:
    response = raw_request(
        trackly, "DELETE", "/api/v2/contacts", json=body, headers={"X-Api-Key": TRACKLY_KEY}
    )

    assert response.status == 400
    assert response.json()["code"] == code
    assert trackly.is_subscribed(TRACKLY_LIST.value, PHONE_E164)


def test_trackly_simulator_answers_json_for_wrong_routes(trackly: TracklySimulator) -> None:
    wrong_method = raw_request(trackly, "POST", "/api/v2/contacts")
    wrong_path = raw_request(trackly, "DELETE", "/api/v2/contact")

    assert (wrong_method.status, wrong_method.headers["Allow"]) == (405, "DELETE")
    assert wrong_path.status == 404
    assert wrong_path.json()["code"] == "not_found"


def test_tatango_simulator_answers_the_documented_subscriber(tatango: TatangoSimulator) -> None:
    response = raw_request(
        tatango,
        "DELETE",
        f"/api/v2/lists/123/subscribers/{PHONE_NATIONAL}",
        headers=urllib3.make_headers(basic_auth=f"{TATANGO_EMAIL}:{TATANGO_KEY}"),
    )

    document = response.json()
    assert response.status == 200
    assert document["status"] == "Subscriber unsubscribed"
    subscriber = document["subscriber"]
    assert subscriber["phone_number"] == PHONE_NATIONAL
    assert {"subscribed_at", "opt_in_method", "carrier", "total_messages_received"} <= set(subscriber)
    assert subscriber["subscribed_at"].endswith("Z")
    assert subscriber["opted_out_at"].endswith("-07:00")  # mixed offsets, as the notes warn
    opted_out = datetime.fromisoformat(subscriber["opted_out_at"])
    assert abs(opted_out - datetime.now(UTC)) < timedelta(hours=1)


def test_simulator_stop_leaves_no_threads_even_with_open_connections(http: HttpClient, phone: Phone) -> None:
    before = set(threading.enumerate())
    simulator = TracklySimulator([TRACKLY_KEY]).start()
    trackly_call(simulator, http)(phone)  # the pool keeps this keep-alive connection open
    simulator.script(Fault.slow(SLOW_SECONDS))
    slow_client = HttpClient(timeout_seconds=SHORT_TIMEOUT)
    with pytest.raises(TransientError):
        trackly_call(simulator, slow_client)(phone)

    simulator.stop()

    assert set(threading.enumerate()) - before == set()
    slow_client.pool.clear()


def test_seeded_fault_rates_are_reproducible() -> None:
    rates = FaultRates(rate_limited=0.2, server_error=0.2, slow=0.1, drop=0.1)

    def draws(seed: int) -> list[Fault | None]:
        injector = FaultInjector(rates, seed=seed)
        return [injector.next_fault() for _ in range(200)]

    first = draws(7)
    assert first == draws(7)
    kinds = {fault.kind if fault else None for fault in first}
    assert kinds == {None, *(kind for kind in FaultKind if kind is not FaultKind.PASSTHROUGH)}


@pytest.mark.slow
def test_simulator_runs_as_a_process_and_reports_its_url(
    tmp_path: Path, http: HttpClient, phone: Phone
) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"accounts": {}, "lists": {"123": [PHONE_NATIONAL]}}))
    calls_out = tmp_path / "calls.json"
    command = [sys.executable, "-m", "optout_relay_dev.simulators", "tatango"]
    command += ["--port", "0", "--seed", "1", "--state", str(state), "--calls-out", str(calls_out)]
    command += ["--email", TATANGO_EMAIL, "--api-key-env", "SIM_TATANGO_KEY"]
    env = {**os.environ, "SIM_TATANGO_KEY": TATANGO_KEY}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        adapter = TatangoAdapter(announced["base_url"], http)
        credentials = Credentials(api_key=TATANGO_KEY, login=TATANGO_EMAIL)
        assert adapter.unsubscribe(phone, TATANGO_LIST, credentials).status is Status.UNSUBSCRIBED
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)

    assert announced["provider"] == "tatango"
    assert process.returncode == 0, stderr
    assert TATANGO_KEY.encode() not in stderr
    assert [call["status"] for call in json.loads(calls_out.read_text())] == [200]
