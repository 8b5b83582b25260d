"""The receiver's answers: what is published, what is refused and why, with fakes for the
secret, the queue and the ledger."""

from __future__ import annotations

import json

import pytest
from webhook_receiver.credentials import WebhookCredentials
from webhook_receiver.receiver import MAX_BODY_BYTES

from .conftest import (
    PHONE,
    TOKEN,
    TRACKLY_LIST,
    TRACKLY_PHONE,
    TRACKLY_SECRET,
    Harness,
    function_url_event,
    tatango_body,
    tatango_event,
    trackly_body,
    trackly_event,
)


def test_a_tatango_stop_is_published_as_one_everywhere_event(harness: Harness) -> None:
    status, answer = harness.send(tatango_event())

    assert (status, answer) == (200, {"status": "published"})
    assert harness.queue.events == [
        {
            "scope": "everywhere",
            "phone_number": PHONE,
            "event_id": "tatango-opt-900001",
            "occurred_at": "2026-11-20T14:00:00.000Z",
            "source": "tatango webhook: unsubscribe",
            "origin": {"provider": "tatango", "list_id": 4242, "webhook_id": "900001"},
        }
    ]
    assert harness.metrics == {("tatango", "WebhookPublished"): 1}


def test_the_token_may_come_in_the_query(harness: Harness) -> None:
    event = function_url_event("/tatango", tatango_body(), query=f"token={TOKEN}")
    assert harness.send(event)[0] == 200
    event = function_url_event("/tatango/", tatango_body(), query=f"token={TOKEN}")
    assert harness.send(event)[0] == 200
    assert len(harness.queue.bodies) == 2


def test_a_trackly_stop_is_published_as_one_everywhere_event(harness: Harness) -> None:
    status, _ = harness.send(trackly_event())

    assert status == 200
    [event] = harness.queue.events
    assert event["scope"] == "everywhere"
    assert event["phone_number"] == TRACKLY_PHONE
    assert event["event_id"].startswith("trackly-") and len(event["event_id"]) == len("trackly-") + 32
    assert event["occurred_at"] == "2026-11-20T14:00:00.000Z"
    assert event["source"] == "trackly webhook: STOP"
    assert event["origin"] == {
        "provider": "trackly",
        "list_number": TRACKLY_LIST,
        "webhook_id": event["event_id"].removeprefix("trackly-"),
    }


def test_retries_of_one_webhook_publish_the_same_event_id(harness: Harness) -> None:
    for _ in range(3):
        assert harness.send(tatango_event())[0] == 200
        assert harness.send(trackly_event())[0] == 200

    ids = [event["event_id"] for event in harness.queue.events]
    assert len(set(ids)) == 2, "one opt-out per webhook, whatever the retries (the relay's ledger dedupes)"


def test_a_later_stop_of_the_same_number_is_another_opt_out(harness: Harness) -> None:
    harness.send(trackly_event())
    harness.send(trackly_event(trackly_body(timestamp="2026-11-21T09:00:00.000Z")))
    harness.send(tatango_event(tatango_body(opt_id=900002)))
    harness.send(tatango_event())

    ids = [event["event_id"] for event in harness.queue.events]
    assert len(set(ids)) == 4


@pytest.mark.parametrize(
    "event",
    [
        tatango_event(token="wrong" + TOKEN[5:]),
        tatango_event(token=TOKEN + "x"),
        function_url_event("/tatango", tatango_body()),  # no token at all
        function_url_event("/tatango", tatango_body(), query="token="),
        function_url_event("/tatango", tatango_body(), query="api_key=" + TOKEN),  # not our parameter
        trackly_event(signature="0" * 64),
        function_url_event("/trackly", trackly_body()),  # no signature
        trackly_event(signature=json.dumps(trackly_body())),
    ],
    ids=[
        "token-wrong",
        "token-longer",
        "no-token",
        "empty-token",
        "other-query-name",
        "bad-signature",
        "no-signature",
        "garbage-signature",
    ],
)
def test_unauthenticated_webhooks_are_refused_401_and_never_published(harness: Harness, event: dict) -> None:
    status, answer = harness.send(event)

    assert (status, answer) == (401, {"error": "unauthorized"})
    assert harness.queue.bodies == []


def test_a_signature_of_another_body_is_refused(harness: Harness) -> None:
    signed = json.dumps(trackly_body()).encode()
    event = trackly_event(
        trackly_body(phone_number="+14155550000"),
        signature=trackly_event(signed)["headers"]["x-trackly-signature"],
    )
    assert harness.send(event)[0] == 401


def test_a_rotated_secret_is_fetched_again_once_before_refusing(harness: Harness) -> None:
    rotated = "Rotated" + "r" * 41
    harness.secrets.fresh = WebhookCredentials((rotated,), (TRACKLY_SECRET,))

    assert harness.send(tatango_event(token=rotated))[0] == 200
    assert harness.secrets.refetches == 1
    assert harness.send(tatango_event(token=rotated))[0] == 200
    assert harness.secrets.refetches == 1, "the fresh value is used from then on"
    assert harness.send(tatango_event(token=TOKEN))[0] == 401
    assert harness.secrets.refetches == 2


def test_an_unreadable_secret_answers_503_so_the_provider_retries(harness: Harness) -> None:
    harness.secrets.unavailable = True

    assert harness.send(tatango_event()) == (503, {"error": "unavailable"})
    assert harness.send(trackly_event())[0] == 503
    assert harness.queue.bodies == []
    assert harness.metrics[("tatango", "WebhookSecretUnavailable")] == 1


def test_an_unset_trackly_secret_refuses_trackly_and_still_takes_tatango(harness: Harness) -> None:
    harness.secrets.value = WebhookCredentials((TOKEN,), ())

    assert harness.send(trackly_event())[0] == 401
    assert harness.send(tatango_event())[0] == 200


def test_a_failing_send_message_answers_503(harness: Harness) -> None:
    harness.queue.failing = True

    assert harness.send(tatango_event()) == (503, {"error": "unavailable"})
    assert harness.send(trackly_event())[0] == 503
    assert harness.metrics[("tatango", "WebhookPublishFailed")] == 1

    harness.queue.failing = False  # the provider's retry
    assert harness.send(tatango_event())[0] == 200
    assert [e["event_id"] for e in harness.queue.events] == ["tatango-opt-900001"]


@pytest.mark.parametrize(
    ("event", "problems"),
    [
        (tatango_event(b"not json"), ["body: must be a JSON object"]),
        (tatango_event(b"[1, 2]"), ["body: must be a JSON object"]),
        (tatango_event(b"\xff\xfe"), ["body: must be a JSON object"]),
        (tatango_event({"timestamp": "x"}), ["type: required"]),
        (tatango_event({"type": 7}), ["type: must be a string of at most 64 characters"]),
        (
            tatango_event({"type": "unsubscribe"}),
            [
                "unsubscribe_date: required",
                "campaign_id: required",
                "opt_id: required",
                "phone_number: required",
            ],
        ),
        (
            tatango_event(
                tatango_body(unsubscribe_date="yesterday", campaign_id=-4, opt_id=True, phone_number="12345")
            ),
            [
                "unsubscribe_date: must be an ISO-8601 date-time",
                "campaign_id: must be a positive integer",
                "opt_id: must be a positive integer",
                "phone_number: must be a 10-digit North American number",
            ],
        ),
        (
            tatango_event(tatango_body(phone_number="0065550123")),
            ["phone_number: must be a 10-digit North American number"],
        ),
        (
            tatango_event(tatango_body(campaign_id="99999999999999999999999")),
            ["campaign_id: must be a positive integer"],
        ),
        (trackly_event({"phone_number": TRACKLY_PHONE}), ["event: required"]),
        (
            trackly_event({"event": "unsubscribe"}),
            ["phone_number: required", "list_number: required", "timestamp: required"],
        ),
        (
            trackly_event(
                trackly_body(phone_number="4155559876", list_number="+1 800 555 1234", timestamp=12)
            ),
            [
                "phone_number: must be an E.164 number (+ and 7 to 15 digits)",
                "list_number: must be an E.164 number (+ and 7 to 15 digits)",
                "timestamp: must be an ISO-8601 date-time",
            ],
        ),
        (
            trackly_event(trackly_body(keyword=["STOP"])),
            ["keyword: must be a string of at most 64 characters"],
        ),
    ],
    ids=lambda value: None,
)
def test_bodies_not_of_the_documented_shape_are_refused_400_with_every_problem(
    harness: Harness, event: dict, problems: list[str]
) -> None:
    status, answer = harness.send(event)

    assert status == 400
    assert answer == {"error": "invalid_webhook", "problems": problems}
    assert harness.queue.bodies == []


def test_a_400_answer_echoes_no_value_sent(harness: Harness) -> None:
    body = tatango_body(phone_number="20655501239999", campaign_id="<script>", unsubscribe_date="2026-99-99")
    status, answer = harness.send(tatango_event(body))

    assert status == 400
    text = json.dumps(answer)
    for value in ("20655501239999", "<script>", "2026-99-99"):
        assert value not in text


def test_an_oversized_body_is_refused_413_before_authentication(harness: Harness) -> None:
    padding = "x" * MAX_BODY_BYTES
    status, answer = harness.send(tatango_event(tatango_body(first_name=padding), token="wrong"))

    assert (status, answer) == (413, {"error": "body_too_large", "limit_bytes": MAX_BODY_BYTES})
    assert harness.secrets.refetches == 0
    assert harness.queue.bodies == []


def test_a_body_at_the_limit_is_read(harness: Harness) -> None:
    body = tatango_body()
    text = json.dumps(body)
    body["first_name"] = "x" * (MAX_BODY_BYTES - len(text) - len('"x"') + len('"Jordan"') - 3)
    assert len(json.dumps(body)) <= MAX_BODY_BYTES
    assert harness.send(tatango_event(body))[0] == 200


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"])
def test_other_methods_are_refused_405(harness: Harness, method: str) -> None:
    answer = harness.receiver.invoke(tatango_event(method=method))
    assert answer["statusCode"] == 405
    assert answer["headers"]["Allow"] == "POST"
    assert harness.receiver.invoke(trackly_event(method=method))["statusCode"] == 405
    assert harness.queue.bodies == []


@pytest.mark.parametrize(
    "path",
    ["/", "/twilio", "/tatango/a/b", "/trackly/extra", "/TATANGO/" + TOKEN, "/tatango" + TOKEN, "//trackly"],
)
def test_other_paths_are_refused_404(harness: Harness, path: str) -> None:
    status, answer = harness.send(function_url_event(path, tatango_body()))

    assert (status, answer) == (404, {"error": "not_found"})
    assert harness.queue.bodies == []


def test_an_event_that_is_no_function_url_request_is_refused_400(harness: Harness) -> None:
    assert harness.send({"Records": []})[0] == 400
    event = tatango_event()
    event["isBase64Encoded"] = True
    event["body"] = "%%%"
    assert harness.send(event)[0] == 400


def test_a_base64_body_is_read(harness: Harness) -> None:
    import base64

    event = trackly_event()
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert harness.send(event)[0] == 200


@pytest.mark.parametrize(
    "event",
    [
        tatango_event(
            {"type": "subscribe", "timestamp": "2026-11-20T10:00:00-04:00", "phone_number": "2065550123"}
        ),
        tatango_event({"type": "message_sent", "timestamp": "2026-11-20T10:00:00-04:00"}),
        trackly_event({"event": "delivery", "phone_number": TRACKLY_PHONE}),
        trackly_event({"event": "reply", "body": "hello"}),
    ],
    ids=["tatango-subscribe", "tatango-message-sent", "trackly-delivery", "trackly-reply"],
)
def test_other_event_types_are_acknowledged_and_ignored(harness: Harness, event: dict) -> None:
    assert harness.send(event) == (200, {"status": "ignored"})
    assert harness.queue.bodies == []


def test_other_event_types_still_need_authentication(harness: Harness) -> None:
    event = tatango_event({"type": "subscribe", "timestamp": "2026-11-20T10:00:00-04:00"}, token="nope")
    assert harness.send(event)[0] == 401


def test_an_unexpected_error_answers_500_so_the_provider_retries(harness: Harness) -> None:
    class Broken:
        def publish(self, body: str) -> str:
            raise RuntimeError("boom " + PHONE)

    harness.receiver.publisher = Broken()
    assert harness.send(tatango_event()) == (500, {"error": "internal_error"})
