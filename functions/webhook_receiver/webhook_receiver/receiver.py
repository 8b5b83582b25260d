"""One webhook request in, one answer out.

In order: the path (404), the method (405), the body size (413), authentication (401),
the documented shape (400), then for an ``unsubscribe`` the echo check and one
SendMessage. 2xx only once the event is on the queue; 503 when it is not (or the secret
cannot be read), so the provider retries. Nothing about a refused request is logged
beyond its reason, its provider and the names of the fields at fault.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from webhook_receiver.authentication import tatango_token_from, tatango_token_matches, trackly_signed_by_any
from webhook_receiver.credentials import WebhookCredentials
from webhook_receiver.echo import SettledUnsubscribe, echo_of
from webhook_receiver.errors import LedgerUnavailable, PublishFailed, SecretUnavailable
from webhook_receiver.http_messages import (
    HttpRequest,
    HttpResponse,
    MalformedEvent,
    function_url_response,
    request_from_function_url,
)
from webhook_receiver.masking import mask_numbers
from webhook_receiver.observability import WebhookMetrics, logger
from webhook_receiver.payload_fields import WebhookShapeError
from webhook_receiver.stop_event import Ignored, StopEvent
from webhook_receiver.tatango_payload import parse_tatango
from webhook_receiver.trackly_payload import parse_trackly

MAX_BODY_BYTES = 16 * 1024
SIGNATURE_HEADER = "x-trackly-signature"
_ROUTE = re.compile(r"^/(?P<provider>tatango|trackly)(?:/(?P<token>[^/]+))?/?$")
_SAFE_TYPE = re.compile(r"[^a-z0-9_]")
REFUSAL_METRICS = {
    "unauthorized": "WebhookUnauthorized",
    "invalid_webhook": "WebhookInvalid",
    "body_too_large": "WebhookTooLarge",
}


class SecretSource(Protocol):
    def current(self) -> WebhookCredentials: ...
    def refetched(self) -> WebhookCredentials | None: ...


class Publisher(Protocol):
    def publish(self, body: str) -> str: ...


class OutcomeReader(Protocol):
    def unsubscribed_at(self, phone_number: str, provider: str) -> list[SettledUnsubscribe]: ...


@dataclass(frozen=True)
class Route:
    provider: str
    path_token: str | None


def route_of(path: str) -> Route | None:
    found = _ROUTE.match(path)
    if found is None or (found["provider"] == "trackly" and found["token"]):
        return None
    return Route(found["provider"], found["token"])


def _authenticates(route: Route, request: HttpRequest, credentials: WebhookCredentials) -> bool:
    if route.provider == "tatango":
        token = tatango_token_from(route.path_token, request.query)
        return tatango_token_matches(credentials.tatango_tokens, token)
    return trackly_signed_by_any(credentials.trackly_secrets, request.body, request.header(SIGNATURE_HEADER))


PARSERS: Mapping[str, Callable[[bytes], StopEvent | Ignored]] = {
    "tatango": parse_tatango,
    "trackly": parse_trackly,
}


class WebhookReceiver:
    def __init__(
        self,
        secrets: SecretSource,
        publisher: Publisher,
        ledger: OutcomeReader | None,
        metrics: WebhookMetrics,
    ) -> None:
        self.secrets = secrets
        self.publisher = publisher
        self.ledger = ledger
        self.metrics = metrics

    def invoke(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """A function URL event (payload format 2.0) in, its answer out."""
        try:
            request = request_from_function_url(event, MAX_BODY_BYTES)
        except MalformedEvent as error:
            return function_url_response(
                self._refuse(400, "malformed_event", "unknown", problems=[str(error)])
            )
        return function_url_response(self.handle(request))

    def handle(self, request: HttpRequest) -> HttpResponse:
        logger.append_keys(request_id=request.request_id or None)
        try:
            return self._handle(request)
        except Exception as error:  # never an unhandled error: the provider retries a 500
            logger.error("Unexpected error handling a webhook", extra={"error": type(error).__name__})
            self.metrics.count("unknown", "WebhookInternalError")
            return HttpResponse.json(500, error="internal_error")
        finally:
            logger.remove_keys(["request_id"])

    def _handle(self, request: HttpRequest) -> HttpResponse:
        route = route_of(request.path)
        if route is None:
            return self._refuse(404, "not_found", "unknown")
        if request.method != "POST":
            return self._refuse(405, "method_not_allowed", route.provider).with_header("Allow", "POST")
        if request.raw_length > MAX_BODY_BYTES:
            return self._refuse(413, "body_too_large", route.provider, limit_bytes=MAX_BODY_BYTES)
        try:
            authenticated = self._authenticated(route, request)
        except SecretUnavailable as error:
            logger.error("Cannot authenticate webhooks: answering 503", extra={"reason": str(error)})
            self.metrics.count(route.provider, "WebhookSecretUnavailable")
            return HttpResponse.json(503, error="unavailable")
        if not authenticated:
            return self._refuse(401, "unauthorized", route.provider)
        try:
            parsed = PARSERS[route.provider](request.body)
        except WebhookShapeError as error:
            return self._refuse(400, "invalid_webhook", route.provider, problems=error.problems)
        if isinstance(parsed, Ignored):
            event_type = _SAFE_TYPE.sub("", parsed.event_type.lower())[:32]
            logger.info("Webhook type not acted on", extra={"provider": route.provider, "type": event_type})
            self.metrics.count(route.provider, "WebhookIgnored")
            return HttpResponse.json(200, status="ignored")
        return self._stop(parsed)

    def _authenticated(self, route: Route, request: HttpRequest) -> bool:
        if _authenticates(route, request, self.secrets.current()):
            return True
        # A rotated secret is fetched again (at most every few seconds) before refusing.
        fresh = self.secrets.refetched()
        return fresh is not None and _authenticates(route, request, fresh)

    def _refuse(self, status: int, reason: str, provider: str, **details: Any) -> HttpResponse:
        logger.warning(
            "Webhook refused", extra={"status": status, "reason": reason, "provider": provider, **details}
        )
        self.metrics.count(provider, REFUSAL_METRICS.get(reason, "WebhookRefused"))
        return HttpResponse.json(status, error=reason, **details)

    def _stop(self, stop: StopEvent) -> HttpResponse:
        fields = stop.log_fields()
        echoed = self._echo(stop)
        if echoed is not None:
            logger.info(
                "Webhook is an echo of the relay's own unsubscribe: not published",
                extra={**fields, "echo_of": mask_numbers(echoed.event_id)},
            )
            self.metrics.count(stop.provider, "WebhookEcho")
            return HttpResponse.json(200, status="echo")
        try:
            message_id = self.publisher.publish(stop.message_body())
        except PublishFailed as error:
            logger.error(
                "Could not publish the opt-out: answering 503", extra={**fields, "reason": str(error)}
            )
            self.metrics.count(stop.provider, "WebhookPublishFailed")
            return HttpResponse.json(503, error="unavailable")
        logger.info("Opt-out published", extra={**fields, "message_id": message_id})
        self.metrics.count(stop.provider, "WebhookPublished")
        return HttpResponse.json(200, status="published")

    def _echo(self, stop: StopEvent) -> SettledUnsubscribe | None:
        if self.ledger is None:
            return None
        try:
            return echo_of(stop, self.ledger.unsubscribed_at(stop.phone_number, stop.provider))
        except LedgerUnavailable as error:  # best effort: the relay checks again
            logger.warning("Echo check skipped", extra={**stop.log_fields(), "reason": str(error)})
            self.metrics.count(stop.provider, "WebhookEchoCheckFailed")
            return None
