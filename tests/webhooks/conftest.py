"""The webhook receiver with in-memory fakes for its secret, queue and ledger, and
function URL events as the providers' webhooks arrive."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from webhook_receiver.credentials import WebhookCredentials
from webhook_receiver.echo import SettledUnsubscribe
from webhook_receiver.errors import LedgerUnavailable, PublishFailed, SecretUnavailable
from webhook_receiver.observability import WebhookMetrics
from webhook_receiver.receiver import WebhookReceiver

TOKEN = "TatangoToken" + "t" * 36  # 48 letters, as the stack generates
TRACKLY_SECRET = "whsec_" + "s" * 42
PHONE_DIGITS = "2065550123"
PHONE = "+1" + PHONE_DIGITS
TRACKLY_PHONE = "+14155559876"
TRACKLY_LIST = "+18005551234"
TATANGO_LIST = 4242
UNSUBSCRIBED_AT = "2026-11-20T10:00:00-04:00"  # 14:00 UTC
TRACKLY_AT = "2026-11-20T14:00:00.000Z"


def tatango_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "type": "unsubscribe",
        "timestamp": UNSUBSCRIBED_AT,
        "unsubscribe_date": UNSUBSCRIBED_AT,
        "account_id": 4711,
        "campaign_id": TATANGO_LIST,
        "opt_id": 900001,
        "phone_number": PHONE_DIGITS,
        "carrier_id": 383,
        "carrier_name": "Verizon Wireless",
        "tag_list": [],
        "first_name": "Jordan",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def trackly_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "event": "unsubscribe",
        "phone_number": TRACKLY_PHONE,
        "list_number": TRACKLY_LIST,
        "keyword": "STOP",
        "timestamp": TRACKLY_AT,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def hex_signature(body: bytes, secret: str = TRACKLY_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def function_url_event(
    path: str,
    body: bytes | str | dict[str, Any] = b"",
    *,
    method: str = "POST",
    query: str = "",
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    raw = raw.encode() if isinstance(raw, str) else raw
    try:
        text, encoded = raw.decode(), False
    except UnicodeDecodeError:  # a function URL passes a body that is not text as base64
        text, encoded = base64.b64encode(raw).decode(), True
    return {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {k.lower(): v for k, v in (headers or {"content-type": "application/json"}).items()},
        "requestContext": {"http": {"method": method, "path": path}, "requestId": "req-1"},
        "body": text,
        "isBase64Encoded": encoded,
    }


def tatango_event(
    body: dict[str, Any] | bytes | str | None = None, *, token: str = TOKEN, **options: Any
) -> dict[str, Any]:
    return function_url_event(f"/tatango/{token}", tatango_body() if body is None else body, **options)


def trackly_event(
    body: dict[str, Any] | bytes | None = None, *, signature: str | None = None, **options: Any
) -> dict[str, Any]:
    raw = (
        json.dumps(trackly_body() if body is None else body).encode() if not isinstance(body, bytes) else body
    )
    headers = {"content-type": "application/json", "x-trackly-signature": signature or hex_signature(raw)}
    return function_url_event("/trackly", raw, headers=headers, **options)


@dataclass
class FakeSecrets:
    """The webhook secret: ``value`` now, ``fresh`` (if set) once fetched again."""

    value: WebhookCredentials = field(default_factory=lambda: WebhookCredentials((TOKEN,), (TRACKLY_SECRET,)))
    fresh: WebhookCredentials | None = None
    unavailable: bool = False
    refetches: int = 0

    def current(self) -> WebhookCredentials:
        if self.unavailable:
            raise SecretUnavailable("the webhook secret could not be read (ClientError)")
        return self.value

    def refetched(self) -> WebhookCredentials | None:
        self.refetches += 1
        if self.unavailable:
            raise SecretUnavailable("the webhook secret could not be read (ClientError)")
        if self.fresh is not None:
            self.value = self.fresh
        return self.value


@dataclass
class FakeQueue:
    bodies: list[str] = field(default_factory=list)
    failing: bool = False

    def publish(self, body: str) -> str:
        if self.failing:
            raise PublishFailed("SQS SendMessage failed (ServiceUnavailable)")
        self.bodies.append(body)
        return f"msg-{len(self.bodies)}"

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.bodies]


@dataclass
class FakeLedger:
    outcomes: list[SettledUnsubscribe] = field(default_factory=list)
    failing: bool = False
    queries: list[tuple[str, str]] = field(default_factory=list)

    def unsubscribed_at(self, phone_number: str, provider: str) -> list[SettledUnsubscribe]:
        self.queries.append((phone_number, provider))
        if self.failing:
            raise LedgerUnavailable("DynamoDB Query failed (ClientError)")
        return [o for o in self.outcomes if o.provider == provider]

    def settled(self, provider: str, list_key: str, event_id: str, at: str) -> None:
        self.outcomes.append(SettledUnsubscribe(provider, list_key, event_id, datetime.fromisoformat(at)))


@dataclass
class Harness:
    receiver: WebhookReceiver
    secrets: FakeSecrets
    queue: FakeQueue
    ledger: FakeLedger
    metric_lines: list[str]

    def send(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        answer = self.receiver.invoke(event)
        return answer["statusCode"], json.loads(answer["body"])

    @property
    def metrics(self) -> dict[tuple[str, str], int]:
        return self.receiver.metrics.counts


@pytest.fixture
def harness() -> Harness:
    lines: list[str] = []
    secrets, queue, ledger = FakeSecrets(), FakeQueue(), FakeLedger()
    receiver = WebhookReceiver(secrets, queue, ledger, WebhookMetrics(sink=lines.append))
    return Harness(receiver, secrets, queue, ledger, lines)


@pytest.fixture
def receiver_logs() -> Iterator[io.StringIO]:
    """Everything the receiver's logger writes during the test."""
    from webhook_receiver.observability import logger

    stream = io.StringIO()
    handler: Any = logger.registered_handler
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)
