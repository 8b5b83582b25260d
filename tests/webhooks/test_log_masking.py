"""No log line holds the Tatango token, a signing secret or a whole phone number, whatever
the request: accepted, refused, an echo, a failure."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from optout_relay_dev.lambda_context import LocalLambdaContext
from webhook_receiver.credentials import WebhookCredentials
from webhook_receiver.observability import MaskingFormatter, logger

from .conftest import (
    PHONE_DIGITS,
    TATANGO_LIST,
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

SECRETS = (TOKEN, TRACKLY_SECRET)
NUMBERS = (PHONE_DIGITS, TRACKLY_PHONE.removeprefix("+1"), TRACKLY_LIST.removeprefix("+1"))


def assert_clean(text: str) -> None:
    assert text.strip(), "the scenario logged nothing: the test would prove nothing"
    for secret in SECRETS:
        assert secret not in text
    assert not re.search(r"/tatango/(?!\*\*\*)", text), "a path after /tatango/ that is not masked"
    for number in NUMBERS:
        assert number not in text
        assert number[-7:] not in text, "seven digits of a number"


def every_kind_of_request(harness: Harness) -> None:
    harness.send(tatango_event())
    harness.send(function_url_event("/tatango", tatango_body(opt_id=5550123), query=f"token={TOKEN}"))
    harness.send(tatango_event(token=TOKEN[:-1] + "X"))
    harness.send(function_url_event("/tatango", tatango_body(), query=f"token={TOKEN}x&api_key={TOKEN}"))
    harness.send(tatango_event(tatango_body(phone_number="20655501234", campaign_id=TRACKLY_LIST)))
    harness.send(tatango_event(b"x" * 20_000, token=TOKEN))
    harness.send(tatango_event({"type": "subscribe", "phone_number": PHONE_DIGITS, "timestamp": "x"}))
    harness.send(trackly_event())
    harness.send(trackly_event(signature=TRACKLY_SECRET))
    harness.send(trackly_event(trackly_body(phone_number=PHONE_DIGITS)))
    harness.send(function_url_event(f"/tatango/{TOKEN}/{PHONE_DIGITS}", tatango_body(), method="GET"))
    harness.send(tatango_event(method="GET"))
    harness.ledger.settled("tatango", str(TATANGO_LIST), "stop-" + PHONE_DIGITS, "2026-11-20T14:01:00+00:00")
    harness.send(tatango_event(tatango_body(opt_id=2)))  # an echo
    harness.ledger.failing = True
    harness.send(tatango_event(tatango_body(opt_id=3)))
    harness.queue.failing = True
    harness.send(trackly_event(trackly_body(timestamp="2026-11-21T00:00:00Z")))
    harness.secrets.unavailable = True
    harness.send(tatango_event())


def test_no_line_holds_a_token_a_secret_or_a_number(harness: Harness, receiver_logs: io.StringIO) -> None:
    logger.setLevel(logging.DEBUG)
    try:
        every_kind_of_request(harness)
    finally:
        logger.setLevel(logging.INFO)

    text = receiver_logs.getvalue()
    assert_clean(text)
    reasons = {json.loads(line).get("reason") for line in text.splitlines()}
    assert {"unauthorized", "invalid_webhook", "body_too_large", "method_not_allowed", "not_found"} <= reasons
    assert_clean("\n".join(harness.metric_lines) + "\n" + PHONE_DIGITS[:3])


def test_an_unexpected_error_is_logged_without_its_values(
    harness: Harness, receiver_logs: io.StringIO
) -> None:
    class Broken:
        def publish(self, body: str) -> str:
            raise RuntimeError(f"could not send {body} to /tatango/{TOKEN}")

    harness.receiver.publisher = Broken()
    assert harness.send(tatango_event())[0] == 500
    assert "RuntimeError" in receiver_logs.getvalue()
    assert_clean(receiver_logs.getvalue())


def test_the_formatter_masks_what_slips_through() -> None:
    stream = io.StringIO()
    formatter = MaskingFormatter()
    formatter.redact(TRACKLY_SECRET, "short")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    plain = logging.getLogger("masking-test")
    plain.addHandler(handler)
    try:
        plain.warning(f"POST https://x.lambda-url.us-east-1.on.aws/tatango/{TOKEN}?token={TOKEN}&a=1")
        plain.warning(f"secret {TRACKLY_SECRET} and a short word")
        try:
            raise ValueError(f"bad number {PHONE_DIGITS}")
        except ValueError:
            plain.exception("failed")
    finally:
        plain.removeHandler(handler)
    text = stream.getvalue()
    assert_clean(text)
    assert "/tatango/***?token=***&a=1" in text
    assert "a short word" in text, "values too short to be secrets are left alone"
    assert "***0123" in text


def test_the_lambda_handler_never_logs_the_event(
    harness: Harness, receiver_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    import webhook_receiver.handler as handler_module

    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    monkeypatch.setattr(handler_module, "receiver", harness.receiver)
    logger.setLevel(logging.DEBUG)
    try:
        answer = handler_module.lambda_handler(tatango_event(), LocalLambdaContext())
        refused = handler_module.lambda_handler(tatango_event(token=TOKEN + "x"), LocalLambdaContext())
    finally:
        logger.setLevel(logging.INFO)

    assert (answer["statusCode"], refused["statusCode"]) == (200, 401)
    assert_clean(receiver_logs.getvalue())
    assert '"function_request_id"' in receiver_logs.getvalue(), "the Lambda context is in the lines"


def test_the_secrets_read_are_redacted_in_every_later_line(receiver_logs: io.StringIO) -> None:
    from webhook_receiver.wiring import _redact

    rotated = "Rotated" + "r" * 41
    _redact(WebhookCredentials((rotated,), ()))
    logger.info(f"oops {rotated}")
    assert rotated not in receiver_logs.getvalue()
