"""Tatango legacy v2 simulator: ``DELETE /api/v2/lists/{ID}/subscribers/{SUBSCRIBER_ID}``.

HTTP Basic auth (login email, API key). The subscriber id is the 10-digit national
number. Unknown list: 404 "List not found"; a number not on the list, or already
unsubscribed: 404 with another error text (the docs leave this case open). Success:
200 with the subscriber, ``opted_out_at`` set, timestamps in mixed UTC offsets
(``subscribed_at`` in UTC, ``opted_out_at`` in ``opted_out_zone``). Every answer has a
``Date`` header and no request id header (``simulators.base``).
Paths outside ``/api/`` answer an HTML 404 page, as a web front end would.

Webhooks (``tatango_webhooks``): ``POST /api/v2/lists/{ID}/webhooks`` creates one,
``PUT .../webhooks/{WEBHOOK_ID}`` updates it; an ``unsubscribe`` event is sent to each
list webhook that asks for it when a subscriber replies STOP (``text_stop``) and when
the API unsubscribes one, retried up to 10 times with exponential backoff.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import re
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from typing import Any, ClassVar, Self, Unpack

from optout_relay_dev.simulators.base import (
    ProviderSimulator,
    Request,
    Response,
    SimulatorOptions,
)
from optout_relay_dev.simulators.tatango_records import (
    PACIFIC,
    PUBLISHED_RATE_LIMIT,
    RateLimit,
    Subscriber,
)
from optout_relay_dev.simulators.tatango_webhooks import (
    TatangoWebhook,
    TatangoWebhooks,
    WebhookRequestError,
    send_with_retries,
    unsubscribe_payload,
)
from optout_relay_dev.simulators.webhooks import TATANGO_RETRY_DELAYS

STATUS_UNSUBSCRIBED = "Subscriber unsubscribed"
STATUS_UNSUBSCRIBED_OLD = "successfully unsubscribed"  # the text in older docs
AUTH_FAILURE = "API key authorization failure"
KEY_DISABLED = "This API key is disabled"
LIST_NOT_FOUND = "List not found"
SUBSCRIBER_NOT_FOUND = "Subscriber not found"
__all__ = ["PACIFIC", "PUBLISHED_RATE_LIMIT", "RateLimit", "Subscriber", "TatangoSimulator"]
ALREADY_UNSUBSCRIBED = "Subscriber is already unsubscribed"

_ROUTE = re.compile(r"^/api/v2/lists/(?P<list>[^/]+)/subscribers/(?P<subscriber>[^/]+)/?$")
_WEBHOOKS_ROUTE = re.compile(r"^/api/v2/lists/(?P<list>[^/]+)/webhooks(?:/(?P<webhook>[^/]+))?/?$")
_TEN_DIGITS = re.compile(r"^\d{10}$")
_FIREWALL_PAGE = (
    "<!DOCTYPE html><html><head><title>403 Forbidden</title></head>"
    "<body><h1>Access denied</h1><p>Request blocked by the web application firewall.</p>"
    "</body></html>"
)
_NOT_FOUND_PAGE = (
    "<!DOCTYPE html><html><head><title>The page you were looking for doesn't exist (404)"
    "</title></head><body><h1>The page you were looking for doesn't exist.</h1></body></html>"
)


@dataclass
class _Account:
    api_key: str
    disabled: bool = False
    admitted: deque[float] = field(default_factory=deque)


class TatangoSimulator(ProviderSimulator):
    name = "tatango"
    rate_limit_message = "Slow down!"
    webhook_retry_delays = TATANGO_RETRY_DELAYS
    local_credentials: ClassVar[Mapping[str, str]] = {
        "email": "relay@example.com",
        "api_key": "tat_local_" + "0" * 24,
    }

    @classmethod
    def for_local(cls, **options: Unpack[SimulatorOptions]) -> Self:
        credentials = cls.local_credentials
        return cls({credentials["email"]: credentials["api_key"]}, **options)

    @classmethod
    def sample_list(cls, index: int) -> int:
        """List ids 4242, 4243, ..."""
        return 4242 + index

    def __init__(
        self,
        accounts: Mapping[str, str] | None = None,
        *,
        status_text: str = STATUS_UNSUBSCRIBED,
        disabled_status: int = 401,
        rate_limit: RateLimit | None = None,
        opted_out_zone: tzinfo = PACIFIC,
        account_id: int = 4711,
        **options: Unpack[SimulatorOptions],
    ) -> None:
        """``accounts``: login email -> API key. ``opted_out_zone``: the UTC offset the
        answers give ``opted_out_at`` in (settable later, as ``opted_out_zone``).
        ``account_id``: what webhooks carry as ``account_id``."""
        super().__init__(**options)
        self.account_id = account_id
        self._webhooks = TatangoWebhooks()
        self._opt_ids = itertools.count(900_001)
        self.opted_out_zone = opted_out_zone
        if disabled_status not in (401, 403):
            raise ValueError("a disabled key answers 401 or 403")
        self.status_text = status_text
        self.disabled_status = disabled_status
        self._accounts = {email: _Account(key) for email, key in (accounts or {}).items()}
        self._lists: dict[str, dict[str, Subscriber]] = {}
        self._rate_limit = rate_limit
        self._firewall_status: int | None = None

    # State for tests and demos
    def set_credentials(self, email: str, api_key: str) -> None:
        """Add the account, or give it this key (enabled); its earlier key is refused."""
        with self._lock:
            self._accounts[email] = _Account(api_key)

    def rotate_key(self, email: str, new_key: str) -> None:
        with self._lock:
            if email not in self._accounts:
                raise KeyError("no such account")
            self._accounts[email].api_key = new_key
            self._accounts[email].disabled = False

    def disable_key(self, email: str, disabled: bool = True) -> None:
        with self._lock:
            self._accounts[email].disabled = disabled

    def set_rate_limit(self, rate_limit: RateLimit | None) -> None:
        with self._lock:
            self._rate_limit = rate_limit
            for account in self._accounts.values():
                account.admitted.clear()

    def set_firewall(self, status: int | None = 403) -> None:
        """Answer every request with the firewall's HTML page and this status; ``None``: off."""
        with self._lock:
            self._firewall_status = status

    def add_list(self, list_id: int | str) -> None:
        with self._lock:
            self._lists.setdefault(_list_key(list_id), {})

    def subscribe(self, list_id: int | str, phone_number: str, **profile: Any) -> None:
        """Subscribe a number (10 digits, or +1 and 10 digits), creating the list if needed.

        ``profile`` sets other ``Subscriber`` fields (first_name, tags, ...).
        """
        subscriber_id = _subscriber_id(phone_number)
        with self._lock:
            subscribers = self._lists.setdefault(_list_key(list_id), {})
            earlier = subscribers.get(subscriber_id)
            if earlier is not None:
                subscribers[subscriber_id] = replace(earlier, active=True, **profile)
            else:
                subscribers[subscriber_id] = Subscriber(
                    subscriber_id,
                    subscribed_at=self.now().replace(microsecond=0),
                    **profile,
                )

    def is_subscribed(self, list_id: int | str, phone_number: str) -> bool:
        subscriber = self.subscriber(list_id, phone_number)
        return subscriber is not None and subscriber.active

    def subscriber(self, list_id: int | str, phone_number: str) -> Subscriber | None:
        with self._lock:
            return self._lists.get(_list_key(list_id), {}).get(_subscriber_id(phone_number))

    def text_stop(self, list_id: int | str, phone_number: str) -> bool:
        """The subscriber replies STOP: unsubscribed from the list, and its ``unsubscribe``
        webhooks are sent. False (nothing happens) if the number is not active on the list."""
        with self._lock:
            key = _list_key(list_id)
            subscriber = self._lists.get(key, {}).get(_subscriber_id(phone_number))
            if subscriber is None or not subscriber.active:
                return False
            self._opt_out(key, subscriber)
            return True

    @property
    def webhooks_registered(self) -> list[TatangoWebhook]:
        with self._lock:
            return self._webhooks.all()

    def register_local_webhooks(
        self, receiver_url: str, secret: Mapping[str, str], lists: Iterable[str | int]
    ) -> None:
        """What an operator does with `optout-relay webhooks show`: one webhook per list,
        created through this simulator's own API with its local credentials."""
        callback = f"{receiver_url.rstrip('/')}/tatango/{secret['tatango_token']}"
        credentials = self.local_credentials
        basic = base64.b64encode(f"{credentials['email']}:{credentials['api_key']}".encode()).decode()
        with self._lock:
            known = [key for key in map(_list_key, lists) if key in self._lists]  # a retired list has none
        for list_id in known:
            body = {
                "webhook": {"url": callback, "unsubscribe": True, "subscribe": False, "message_sent": False}
            }
            request = urllib.request.Request(  # noqa: S310 - our own loopback server
                f"{self.base_url}/api/v2/lists/{list_id}/webhooks",
                data=json.dumps(body).encode(),
                method="POST",
                headers={"Authorization": f"Basic {basic}", "Content-Type": "application/json"},
            )
            send_with_retries(request)

    def load_state(self, document: Mapping[str, Any]) -> None:
        """``{"accounts": {"email": "api_key"}, "lists": {"123": ["2065551111", ...]}}``"""
        with self._lock:
            for email, api_key in dict(document.get("accounts", {})).items():
                self.set_credentials(str(email), str(api_key))
            for list_id, phones in dict(document.get("lists", {})).items():
                self.add_list(list_id)
                if not isinstance(phones, list):
                    raise ValueError(f"lists[{list_id}] must be a list of phone numbers")
                for phone in phones:
                    self.subscribe(list_id, str(phone))

    # The API
    def error_response(self, status: int, message: str, code: str) -> Response:
        return Response.json(status, {"status": "error", "error": message})

    def handle(self, request: Request) -> tuple[Response, bool | None]:
        with self._lock:
            if self._firewall_status is not None:
                return Response.html(self._firewall_status, _FIREWALL_PAGE), None
        if not request.path.startswith("/api/"):
            return Response.html(404, _NOT_FOUND_PAGE), None
        webhooks = _WEBHOOKS_ROUTE.match(request.path)
        if webhooks is not None:
            return self._webhooks_api(request, webhooks["list"], webhooks["webhook"])
        route = _ROUTE.match(request.path)
        if route is None:
            return self.error_response(404, "Not found", "not_found"), None
        if request.method != "DELETE":
            response = self.error_response(405, "Method not allowed", "method_not_allowed")
            return response.with_header("Allow", "DELETE"), None
        with self._lock:
            account = self._authenticate(request.header("authorization"))
            if account is None:
                return self.error_response(401, AUTH_FAILURE, "unauthorized"), False
            if account.disabled:
                return self.error_response(self.disabled_status, KEY_DISABLED, "disabled"), False
            retry_after = self._admit(account)
            if retry_after is not None:
                response = self.error_response(429, self.rate_limit_message, "rate_limited")
                return response.with_header("Retry-After", str(retry_after)), True
            return self._unsubscribe(route["list"], route["subscriber"]), True

    def _webhooks_api(
        self, request: Request, list_id: str, webhook_id: str | None
    ) -> tuple[Response, bool | None]:
        expected = "POST" if webhook_id is None else "PUT"
        if request.method != expected:
            response = self.error_response(405, "Method not allowed", "method_not_allowed")
            return response.with_header("Allow", expected), None
        with self._lock:
            account = self._authenticate(request.header("authorization"))
            if account is None or account.disabled:
                return self.error_response(401, AUTH_FAILURE, "unauthorized"), False
            retry_after = self._admit(account)
            if retry_after is not None:
                response = self.error_response(429, self.rate_limit_message, "rate_limited")
                return response.with_header("Retry-After", str(retry_after)), True
            known = list_id.isascii() and list_id.isdigit() and str(int(list_id)) in self._lists
            if not known:
                return self.error_response(404, LIST_NOT_FOUND, "list_not_found"), True
            return self._create_or_update(str(int(list_id)), webhook_id, request.body), True

    def _create_or_update(self, list_id: str, webhook_id: str | None, body: bytes) -> Response:
        try:
            if webhook_id is None:
                webhook = self._webhooks.create(list_id, body, self.now())
                return Response.json(200, {"status": "Webhook created", "webhook": webhook.to_json()})
            found = self._webhooks.update(
                list_id, int(webhook_id) if webhook_id.isdigit() else 0, body, self.now()
            )
        except WebhookRequestError as error:
            return self.error_response(422, str(error), "invalid")
        if found is None:
            return self.error_response(404, "Webhook not found", "not_found")
        return Response.json(200, {"status": "Webhook updated", "webhook": found.to_json()})

    def _opt_out(self, list_id: str, subscriber: Subscriber) -> Subscriber:
        """Unsubscribe (a STOP or the API) and send the list's ``unsubscribe`` webhooks."""
        now = self.now().replace(microsecond=0)
        subscriber = replace(subscriber, active=False, opted_out_at=now)
        self._lists[list_id][subscriber.phone_number] = subscriber
        hooks = self._webhooks.for_unsubscribe(list_id)
        if hooks:
            payload = unsubscribe_payload(
                list_id=list_id,
                subscriber=subscriber,
                account_id=self.account_id,
                opt_id=next(self._opt_ids),
                now=now,
            )
            body = json.dumps(payload).encode()
            for hook in hooks:
                self.webhooks.send(hook.callback_url, body, {})
        return subscriber

    def _authenticate(self, header: str | None) -> _Account | None:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        email, separator, api_key = decoded.partition(":")
        account = self._accounts.get(email)
        if not separator or account is None or account.api_key != api_key:
            return None
        return account

    def _admit(self, account: _Account) -> int | None:
        """Count the call against the account's limit; the Retry-After seconds if over it."""
        if self._rate_limit is None:
            return None
        now, window = self._clock(), self._rate_limit.window_seconds
        while account.admitted and account.admitted[0] <= now - window:
            account.admitted.popleft()
        if len(account.admitted) >= self._rate_limit.calls:
            return max(1, math.ceil(account.admitted[0] + window - now))
        account.admitted.append(now)
        return None

    def _unsubscribe(self, list_id: str, subscriber_id: str) -> Response:
        known = list_id.isascii() and list_id.isdigit()
        subscribers = self._lists.get(str(int(list_id))) if known else None
        if subscribers is None:
            return self.error_response(404, LIST_NOT_FOUND, "list_not_found")
        if not _TEN_DIGITS.match(subscriber_id):
            return self.error_response(
                422, "Phone number must be a continuous string of 10 digits", "invalid_phone"
            )
        subscriber = subscribers.get(subscriber_id)
        if subscriber is None:
            return self.error_response(404, SUBSCRIBER_NOT_FOUND, "not_found")
        if not subscriber.active:
            return self.error_response(404, ALREADY_UNSUBSCRIBED, "not_found")
        # Tatango sends the same unsubscribe webhook for an API unsubscribe as for a STOP.
        subscriber = self._opt_out(str(int(list_id)), subscriber)
        document = {"status": self.status_text, "subscriber": subscriber.to_json(self.opted_out_zone)}
        return Response.json(200, document)


def _list_key(list_id: int | str) -> str:
    key = str(list_id).strip()
    if not (key.isascii() and key.isdigit()) or int(key) == 0:
        raise ValueError("a Tatango list id is a positive integer")
    return str(int(key))


def _subscriber_id(phone_number: str) -> str:
    digits = phone_number.removeprefix("+1") if phone_number.startswith("+1") else phone_number
    if not _TEN_DIGITS.match(digits):
        raise ValueError("a Tatango subscriber is 10 digits (or +1 and 10 digits)")
    return digits
