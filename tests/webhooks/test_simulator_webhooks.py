"""The simulators send webhooks as the providers document them: registered per list
(Tatango) or per account (Trackly), sent on a STOP and on an API unsubscribe, retried on
any answer but 2xx, a bounded number of times."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import urllib3
from optout_relay_dev.simulators import TatangoSimulator, TracklySimulator
from optout_relay_dev.simulators.base import LoopbackHttpServer, Request, Response
from webhook_receiver.authentication import trackly_signature_matches
from webhook_receiver.tatango_payload import parse_tatango
from webhook_receiver.trackly_payload import parse_trackly

EMAIL, KEY = "ops@example.com", "tatango-" + "K" * 24
TRACKLY_KEY = "trk_" + "T" * 32
SIGNING = "whsec_" + "s" * 40
PHONE = "+12065550123"
LIST_ID = 4242
LIST_NUMBER = "+18005551234"
FAST = 0.00001  # Tatango: 15 s in 0.15 ms, all ten retries (4.8 h) in 0.17 s


@dataclass
class Callback:
    """A webhook endpoint that answers from a script, then 200."""

    answers: list[int] = field(default_factory=list)
    received: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.received.append(request)
            status = self.answers.pop(0) if self.answers else 200
        return Response.json(status, {})


@pytest.fixture
def callback() -> Iterator[tuple[Callback, str]]:
    endpoint = Callback()
    with LoopbackHttpServer(endpoint) as server:
        yield endpoint, server.base_url


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=5))
    yield pool
    pool.clear()


def basic(email: str = EMAIL, key: str = KEY) -> dict[str, str]:
    token = base64.b64encode(f"{email}:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


def create(
    http: urllib3.PoolManager, tatango: TatangoSimulator, url: str, **flags: object
) -> urllib3.BaseHTTPResponse:
    body = json.dumps({"webhook": {"url": url, **flags}})
    return http.request(
        "POST", f"{tatango.base_url}/api/v2/lists/{LIST_ID}/webhooks", body=body, headers=basic()
    )


def test_tatango_webhooks_are_created_per_list_with_the_documented_answer(
    http: urllib3.PoolManager, callback: tuple[Callback, str]
) -> None:
    _, url = callback
    with TatangoSimulator({EMAIL: KEY}) as tatango:
        tatango.add_list(LIST_ID)
        answer = create(http, tatango, f"{url}/tatango/t", unsubscribe=True)

        assert answer.status == 200
        document = json.loads(answer.data)
        assert document["status"] == "Webhook created"
        assert set(document["webhook"]) == {
            "id",
            "list_id",
            "callback_url",
            "enabled",
            "subscribe",
            "unsubscribe",
            "message_sent",
            "created_at",
            "updated_at",
        }
        assert document["webhook"]["list_id"] == LIST_ID
        assert (document["webhook"]["unsubscribe"], document["webhook"]["subscribe"]) == (True, False)


@pytest.mark.parametrize(
    ("path", "method", "headers", "body", "status"),
    [
        (
            f"/api/v2/lists/{LIST_ID}/webhooks",
            "POST",
            {"Content-Type": "application/json"},
            {"webhook": {"url": "http://x"}},
            401,
        ),
        (
            f"/api/v2/lists/{LIST_ID}/webhooks",
            "POST",
            basic(key="wrong"),
            {"webhook": {"url": "http://x"}},
            401,
        ),
        ("/api/v2/lists/9999/webhooks", "POST", basic(), {"webhook": {"url": "http://x"}}, 404),
        (f"/api/v2/lists/{LIST_ID}/webhooks", "POST", basic(), {"webhook": {"url": "ftp://x"}}, 422),
        (f"/api/v2/lists/{LIST_ID}/webhooks", "POST", basic(), {"url": "http://x"}, 422),
        (f"/api/v2/lists/{LIST_ID}/webhooks", "GET", basic(), None, 405),
        (f"/api/v2/lists/{LIST_ID}/webhooks/77", "PUT", basic(), {"webhook": {"enabled": False}}, 404),
    ],
)
def test_tatango_webhook_api_refusals(
    http: urllib3.PoolManager, path: str, method: str, headers: dict[str, str], body: object, status: int
) -> None:
    with TatangoSimulator({EMAIL: KEY}) as tatango:
        tatango.add_list(LIST_ID)
        data = json.dumps(body) if body is not None else None
        assert http.request(method, tatango.base_url + path, body=data, headers=headers).status == status


def test_tatango_sends_unsubscribe_on_a_stop_and_on_an_api_unsubscribe(
    http: urllib3.PoolManager, callback: tuple[Callback, str]
) -> None:
    endpoint, url = callback
    with TatangoSimulator({EMAIL: KEY}) as tatango:
        tatango.subscribe(LIST_ID, PHONE)
        tatango.subscribe(LIST_ID, "+12065550124")
        tatango.subscribe(4243, PHONE)  # another list: no webhook there
        create(http, tatango, f"{url}/tatango/t?token=abc", unsubscribe=True)

        assert tatango.text_stop(LIST_ID, PHONE)
        assert not tatango.text_stop(LIST_ID, PHONE), "already out: nothing to send"
        assert tatango.text_stop(4243, PHONE)
        api = http.request(
            "DELETE", f"{tatango.base_url}/api/v2/lists/{LIST_ID}/subscribers/2065550124", headers=basic()
        )
        assert api.status == 200
        assert tatango.webhooks.wait_idle(5)

    assert [r.path for r in endpoint.received] == ["/tatango/t", "/tatango/t"]
    assert endpoint.received[0].query == "token=abc"
    stops = [parse_tatango(r.body) for r in endpoint.received]
    assert [(s.phone_number, s.list_value) for s in stops] == [(PHONE, LIST_ID), ("+12065550124", LIST_ID)]  # type: ignore[union-attr]
    assert len({s.event_id for s in stops}) == 2  # type: ignore[union-attr]


def test_a_disabled_or_unsubscribe_less_tatango_webhook_sends_nothing(
    http: urllib3.PoolManager, callback: tuple[Callback, str]
) -> None:
    endpoint, url = callback
    with TatangoSimulator({EMAIL: KEY}) as tatango:
        tatango.subscribe(LIST_ID, PHONE)
        tatango.subscribe(LIST_ID, "+12065550124")
        create(http, tatango, url, subscribe=True)  # not unsubscribe
        hook = json.loads(create(http, tatango, url, unsubscribe=True).data)["webhook"]
        updated = http.request(
            "PUT",
            f"{tatango.base_url}/api/v2/lists/{LIST_ID}/webhooks/{hook['id']}",
            body=json.dumps({"webhook": {"enabled": False}}),
            headers=basic(),
        )
        assert json.loads(updated.data)["status"] == "Webhook updated"

        tatango.text_stop(LIST_ID, PHONE)
        assert tatango.webhooks.wait_idle(5)

    assert endpoint.received == []


def test_trackly_sends_a_signed_unsubscribe_on_a_stop(callback: tuple[Callback, str]) -> None:
    endpoint, url = callback
    with TracklySimulator([TRACKLY_KEY]) as trackly:
        trackly.subscribe(LIST_NUMBER, PHONE)
        trackly.configure_webhook(f"{url}/trackly", SIGNING)

        assert trackly.text_stop(LIST_NUMBER, PHONE, "STOPALL")
        assert trackly.webhooks.wait_idle(5)
        assert not trackly.is_subscribed(LIST_NUMBER, PHONE)

    [request] = endpoint.received
    assert request.path == "/trackly"
    assert trackly_signature_matches(SIGNING, request.body, request.header("x-trackly-signature"))
    document = json.loads(request.body)
    assert document["event"] == "unsubscribe" and document["keyword"] == "STOPALL"
    assert document["timestamp"].endswith("Z")
    assert parse_trackly(request.body).source == "trackly webhook: STOPALL"  # type: ignore[union-attr]


@pytest.mark.parametrize("fires", [True, False])
def test_trackly_api_unsubscribes_fire_the_webhook_unless_told_not_to(
    http: urllib3.PoolManager, callback: tuple[Callback, str], fires: bool
) -> None:
    endpoint, url = callback
    with TracklySimulator([TRACKLY_KEY]) as trackly:
        trackly.subscribe(LIST_NUMBER, PHONE)
        trackly.configure_webhook(f"{url}/trackly", SIGNING, on_api_unsubscribe=fires)
        body = json.dumps({"phone_number": PHONE, "list_number": LIST_NUMBER})
        answer = http.request(
            "DELETE", f"{trackly.base_url}/api/v2/contacts", body=body, headers={"X-Api-Key": TRACKLY_KEY}
        )
        assert json.loads(answer.data)["unsubscribed"] is True
        assert trackly.webhooks.wait_idle(5)

    assert len(endpoint.received) == (1 if fires else 0)
    if fires:
        assert "keyword" not in json.loads(endpoint.received[0].body)


def test_a_webhook_is_retried_until_it_is_taken(callback: tuple[Callback, str]) -> None:
    endpoint, url = callback
    endpoint.answers = [500, 503, 401]
    with TatangoSimulator({EMAIL: KEY}, webhook_time_scale=FAST) as tatango:
        tatango.subscribe(LIST_ID, PHONE)
        tatango.set_credentials(*TatangoSimulator.local_credentials.values())
        tatango.register_local_webhooks(url, {"tatango_token": "t"}, [LIST_ID])
        tatango.text_stop(LIST_ID, PHONE)
        assert tatango.webhooks.wait_idle(5)

    assert [d.status for d in tatango.webhooks.deliveries] == [500, 503, 401, 200]
    assert [d.attempt for d in tatango.webhooks.deliveries] == [1, 2, 3, 4]
    assert len({r.body for r in endpoint.received}) == 1, "every retry is the same webhook"
    assert tatango.webhooks.given_up == []


def test_retries_are_bounded_and_trackly_pauses_the_endpoint(callback: tuple[Callback, str]) -> None:
    endpoint, url = callback
    endpoint.answers = [503] * 50
    with TracklySimulator([TRACKLY_KEY], webhook_time_scale=FAST) as trackly:
        trackly.subscribe(LIST_NUMBER, PHONE)
        trackly.subscribe(LIST_NUMBER, "+12065550124")
        trackly.configure_webhook(f"{url}/trackly", SIGNING)
        trackly.text_stop(LIST_NUMBER, PHONE)
        assert trackly.webhooks.wait_idle(5)
        hook = trackly.webhook()
        assert hook is not None and hook.paused
        trackly.text_stop(LIST_NUMBER, "+12065550124")
        assert trackly.webhooks.wait_idle(5)

    assert len(endpoint.received) == 1 + 5, "the first try and five retries, then paused"
    assert len(trackly.webhooks.given_up) == 1


def test_an_unreachable_callback_counts_as_a_failure(callback: tuple[Callback, str]) -> None:
    with TatangoSimulator({EMAIL: KEY}, webhook_time_scale=FAST) as tatango:
        tatango.subscribe(LIST_ID, PHONE)
        tatango.set_credentials(*TatangoSimulator.local_credentials.values())
        tatango.register_local_webhooks("http://127.0.0.1:9", {"tatango_token": "t"}, [LIST_ID])
        tatango.text_stop(LIST_ID, PHONE)
        assert tatango.webhooks.wait_idle(5)

    assert [d.status for d in tatango.webhooks.deliveries] == [None] * 11
    assert len(tatango.webhooks.given_up) == 1


def test_held_webhooks_wait_for_release(callback: tuple[Callback, str]) -> None:
    endpoint, url = callback
    with TracklySimulator([TRACKLY_KEY]) as trackly:
        trackly.subscribe(LIST_NUMBER, PHONE)
        trackly.configure_webhook(f"{url}/trackly", SIGNING)
        trackly.webhooks.hold()
        trackly.text_stop(LIST_NUMBER, PHONE)
        assert not trackly.webhooks.wait_idle(0.05)
        assert trackly.webhooks.pending == 1 and endpoint.received == []
        trackly.webhooks.release()
        assert trackly.webhooks.wait_idle(5)

    assert len(endpoint.received) == 1
