"""The webhook receiver on loopback, as its Lambda function URL would serve it.

Each HTTP request becomes a function URL event (payload format 2.0: ``rawPath``,
``rawQueryString``, lower-case headers, the body as text or base64) handed to the real
receiver code (``webhook_receiver``), built from the environment template.yaml gives the
function and pointed at the local AWS endpoint. One request at a time, as one Lambda
execution environment serves them. The receiver's logs and EMF metrics go to ``log``
(never the terminal: a request path holds the Tatango token).
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from collections.abc import Mapping
from typing import IO, Any, Self

from optout_relay_dev.lifecycle import Startable
from optout_relay_dev.simulators.base import LoopbackHttpServer, Request, Response

_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded")
# The receiver's logger is one per process: requests of every local receiver take turns.
_ONE_AT_A_TIME = threading.Lock()


class _Discard(io.StringIO):
    """Where the receiver's lines go when nobody wants them (nothing is kept)."""

    def write(self, text: str) -> int:
        return len(text)


class RecordingPublisher:
    """The receiver's publisher, keeping each body it published (the demo reports them)."""

    def __init__(self, publisher: Any) -> None:
        self.publisher = publisher
        self.sent: list[tuple[str, str]] = []  # (message id, body)

    def publish(self, body: str) -> str:
        message_id = str(self.publisher.publish(body))
        self.sent.append((message_id, body))
        return message_id


def function_url_event(request: Request, *, host: str = "localhost") -> dict[str, Any]:
    """The event Lambda would pass for ``request`` through a function URL."""
    content_type = (request.header("content-type") or "").lower()
    as_text = not content_type or content_type.startswith(_TEXT_TYPES)
    try:
        body, encoded = (request.body.decode("utf-8"), False) if as_text else ("", True)
    except UnicodeDecodeError:
        body, encoded = "", True
    if encoded:
        body = base64.b64encode(request.body).decode("ascii")
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": dict(request.headers),
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": "local",
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": request.header("user-agent") or "",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


class LocalWebhookReceiver(Startable):
    def __init__(
        self,
        environment: Mapping[str, str],
        *,
        session: Any,
        endpoint_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log: IO[str] | None = None,
    ) -> None:
        self.environment = dict(environment)
        self.session = session
        self.endpoint_url = endpoint_url
        self.log: IO[str] = log if log is not None else _Discard()
        self.server = LoopbackHttpServer(self._dispatch, host, port, name="webhook-receiver")
        self._receiver: Any = None
        self._publisher: RecordingPublisher | None = None
        self._metrics: Any = None

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def app(self) -> Any:
        """The ``WebhookReceiver`` behind the URL (tests swap its parts)."""
        return self._receiver

    @property
    def sent(self) -> list[tuple[str, str]]:
        """(SQS message id, body) of every event the receiver published, in order."""
        with _ONE_AT_A_TIME:
            return list(self._publisher.sent) if self._publisher is not None else []

    @property
    def published(self) -> list[dict[str, Any]]:
        """Every event the receiver published, in order."""
        return [json.loads(body) for _, body in self.sent]

    @property
    def counts(self) -> dict[tuple[str, str], int]:
        """(provider, metric) -> how many: ``WebhookPublished``, ``WebhookEcho``, ..."""
        return dict(self._metrics.counts) if self._metrics is not None else {}

    def start(self) -> Self:
        from webhook_receiver.observability import WebhookMetrics
        from webhook_receiver.settings import Settings
        from webhook_receiver.wiring import build_receiver

        self._metrics = WebhookMetrics(sink=self._write)
        self._receiver = build_receiver(
            Settings.from_env(self.environment),
            self.session,
            endpoint_url=self.endpoint_url,
            metrics=self._metrics,
        )
        self._publisher = RecordingPublisher(self._receiver.publisher)
        self._receiver.publisher = self._publisher
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def _write(self, line: str) -> None:
        self.log.write(line + "\n")
        self.log.flush()

    def _dispatch(self, request: Request) -> Response:
        from webhook_receiver.observability import logger

        event = function_url_event(request, host=self.server.host)
        with _ONE_AT_A_TIME:
            # Not setStream: it flushes the stream it replaces, which may be a test runner's
            # capture of stdout closed since (the logger took it at its first import).
            handler: Any = logger.registered_handler
            previous, handler.stream = handler.stream, self.log
            try:
                answer = self._receiver.invoke(event)
            finally:
                handler.stream = previous
        headers = tuple((k, v) for k, v in answer.get("headers", {}).items() if k.lower() != "content-type")
        content_type = answer.get("headers", {}).get("Content-Type", "application/json")
        body = str(answer.get("body") or "")
        raw = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
        return Response(int(answer["statusCode"]), raw, content_type, headers)
