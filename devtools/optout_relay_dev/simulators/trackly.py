"""Trackly SMS v2 simulator: ``DELETE /api/v2/contacts`` as its API page describes it.

200 ``{"success": true, "unsubscribed": <bool>}`` whenever the request is valid, even
for an unknown list or contact; ``unsubscribed`` is true only when an active list
subscription was deactivated (reason ``api``). The contact record is kept. Every answer
has a ``Date`` header and no request id header (``simulators.base``).

Webhooks: one per account, set in the dashboard (``configure_webhook``). An
``unsubscribe`` event is sent when a contact replies STOP (``text_stop``) and, by
default, when the API unsubscribes one (undocumented: "assume Trackly may"), signed in
``X-Trackly-Signature`` with the hex HMAC-SHA256 of the raw body (the common scheme; the
docs do not say). Retried after 1, 5, 15 min, 1 h and 2 h, then the endpoint is paused.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, Unpack

from optout_relay_dev.simulators.base import (
    ProviderSimulator,
    Request,
    Response,
    SimulatorOptions,
)
from optout_relay_dev.simulators.webhooks import TRACKLY_RETRY_DELAYS

CONTACTS_PATH = "/api/v2/contacts"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class ListContact:
    """A contact's subscription to one sending list."""

    phone_number: str
    active: bool
    subscribed_at: datetime
    unsubscribed_at: datetime | None = None
    unsubscribe_reason: str | None = None


@dataclass
class TracklyWebhook:
    """An account's webhook, as set in the dashboard (Settings > Webhooks)."""

    url: str
    signing_secret: str
    lists: frozenset[str] | None  # the account's lists; None: every list of this simulator
    on_api_unsubscribe: bool
    paused: bool = False

    def covers(self, list_number: str) -> bool:
        return not self.paused and (self.lists is None or list_number in self.lists)


def signature(secret: str, body: bytes) -> str:
    """``X-Trackly-Signature`` as assumed here: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class TracklySimulator(ProviderSimulator):
    name = "trackly"
    rate_limit_message = "Rate limit exceeded"
    webhook_retry_delays = TRACKLY_RETRY_DELAYS
    local_credentials: ClassVar[Mapping[str, str]] = {"api_key": "trk_local_" + "0" * 24}

    @classmethod
    def for_local(cls, **options: Unpack[SimulatorOptions]) -> Self:
        return cls(api_keys=[cls.local_credentials["api_key"]], **options)

    @classmethod
    def sample_list(cls, index: int) -> str:
        """Toll-free sending numbers: +18005550100, +18005550101, ..."""
        return f"+1800555{100 + index:04d}"

    def __init__(self, api_keys: Iterable[str] = (), **options: Unpack[SimulatorOptions]) -> None:
        super().__init__(**options)
        self._api_keys: set[str] = set(api_keys)
        self._lists: dict[str, dict[str, ListContact]] = {}
        self._suspended = False
        self._suspended_code: str | None = None
        self._webhooks: dict[str, TracklyWebhook] = {}

    # State for tests and demos
    def set_credentials(self, *api_keys: str) -> None:
        """These keys, and only these, are accepted from now on."""
        with self._lock:
            self._api_keys = set(api_keys)

    def rotate_key(self, new_key: str, *, keep_old: bool = False) -> None:
        """Accept ``new_key``; unless ``keep_old``, every earlier key is refused from now on."""
        with self._lock:
            self._api_keys = {*self._api_keys, new_key} if keep_old else {new_key}

    def suspend(self, *, code: str | None = None) -> None:
        """Suspended account: every authenticated call answers 403 (with ``code`` if given)."""
        with self._lock:
            self._suspended, self._suspended_code = True, code

    def reinstate(self) -> None:
        with self._lock:
            self._suspended = False

    def add_list(self, list_number: str) -> None:
        _require_e164(list_number, "list_number")
        with self._lock:
            self._lists.setdefault(list_number, {})

    def subscribe(self, list_number: str, phone_number: str) -> None:
        """Make ``phone_number`` an active contact of the list (creating the list if needed)."""
        _require_e164(list_number, "list_number")
        _require_e164(phone_number, "phone_number")
        with self._lock:
            self._lists.setdefault(list_number, {})[phone_number] = ListContact(
                phone_number, active=True, subscribed_at=self.now()
            )

    def is_subscribed(self, list_number: str, phone_number: str) -> bool:
        contact = self.contact(list_number, phone_number)
        return contact is not None and contact.active

    def contact(self, list_number: str, phone_number: str) -> ListContact | None:
        """The list subscription record, active or not; ``None`` if never on the list."""
        with self._lock:
            return self._lists.get(list_number, {}).get(phone_number)

    def configure_webhook(
        self,
        url: str,
        signing_secret: str,
        *,
        account: str = "default",
        lists: Iterable[str] | None = None,
        on_api_unsubscribe: bool = True,
    ) -> None:
        """The dashboard's webhook setting for one account: ``unsubscribe`` events of its
        ``lists`` (None: every list) go to ``url``, signed with ``signing_secret``. Whether
        an API unsubscribe fires it is undocumented: by default it does ("assume Trackly may")."""
        with self._lock:
            chosen = None if lists is None else frozenset(lists)
            self._webhooks[account] = TracklyWebhook(url, signing_secret, chosen, on_api_unsubscribe)

    def webhook(self, account: str = "default") -> TracklyWebhook | None:
        with self._lock:
            return self._webhooks.get(account)

    def register_local_webhooks(
        self, receiver_url: str, secret: Mapping[str, str], lists: Iterable[str | int]
    ) -> None:
        """What an operator does in the dashboard, for this simulator's one account."""
        url = f"{receiver_url.rstrip('/')}/trackly"
        self.configure_webhook(url, secret["trackly_signing_secret"], lists=[str(value) for value in lists])

    def text_stop(self, list_number: str, phone_number: str, keyword: str = "STOP") -> bool:
        """The contact replies ``keyword``: inactive on the list (reason ``keyword``), and
        the account's webhook is sent. False (nothing happens) if not active on the list."""
        with self._lock:
            contact = self._lists.get(list_number, {}).get(phone_number)
            if contact is None or not contact.active:
                return False
            self._deactivate(contact, list_number, "keyword", keyword)
            return True

    def _deactivate(self, contact: ListContact, list_number: str, reason: str, keyword: str | None) -> None:
        now = self.now()
        self._lists[list_number][contact.phone_number] = replace(
            contact, active=False, unsubscribed_at=now, unsubscribe_reason=reason
        )
        document: dict[str, Any] = {"event": "unsubscribe", "phone_number": contact.phone_number}
        document["list_number"] = list_number
        if keyword is not None:  # an API unsubscribe has no keyword to send (assumed)
            document["keyword"] = keyword
        document["timestamp"] = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        body = json.dumps(document).encode()
        for hook in self._webhooks.values():
            if hook.covers(list_number) and (keyword is not None or hook.on_api_unsubscribe):
                headers = {"X-Trackly-Signature": signature(hook.signing_secret, body)}
                self.webhooks.send(hook.url, body, headers, on_give_up=functools.partial(self._pause, hook))

    def _pause(self, hook: TracklyWebhook) -> None:
        """Endpoints that keep failing are paused."""
        with self._lock:
            hook.paused = True

    def load_state(self, document: Mapping[str, Any]) -> None:
        """``{"api_keys": [...], "lists": {"+1800...": ["+1206...", ...]}}``"""
        with self._lock:
            if "api_keys" in document:
                self.set_credentials(*_strings(document["api_keys"], "api_keys"))
            for list_number, phones in dict(document.get("lists", {})).items():
                self.add_list(list_number)
                for phone in _strings(phones, f"lists[{list_number}]"):
                    self.subscribe(list_number, phone)

    # The API
    def error_response(self, status: int, message: str, code: str | None) -> Response:
        document = {"error": message} if code is None else {"error": message, "code": code}
        return Response.json(status, document)

    def handle(self, request: Request) -> tuple[Response, bool | None]:
        if request.path.rstrip("/") != CONTACTS_PATH:
            return self.error_response(404, "Not found", "not_found"), None
        if request.method != "DELETE":
            response = self.error_response(405, "Method not allowed", "method_not_allowed")
            return response.with_header("Allow", "DELETE"), None
        with self._lock:
            if request.header("x-api-key") not in self._api_keys:
                return self.error_response(401, "Missing or invalid API key", "unauthorized"), False
            if self._suspended:
                return self.error_response(403, "Account suspended", self._suspended_code), True
            return self._unsubscribe(request.body), True

    def _unsubscribe(self, body: bytes) -> Response:
        try:
            document = json.loads(body) if body else {}
        except ValueError:
            document = None
        if not isinstance(document, dict):
            return self.error_response(400, "The request body must be a JSON object", "invalid_json")
        phone, list_number = document.get("phone_number"), document.get("list_number")
        if phone in (None, ""):
            return self.error_response(400, "phone_number is required", "missing_phone_number")
        if list_number in (None, ""):
            return self.error_response(400, "list_number is required", "missing_list_number")
        if not isinstance(phone, str) or not E164.match(phone):
            return self.error_response(
                400, "The phone_number is not a valid E.164 phone number", "invalid_phone"
            )
        if not isinstance(list_number, str) or not E164.match(list_number):
            return self.error_response(
                400, "The list_number is not a valid E.164 phone number", "invalid_list_number"
            )
        contact = self._lists.get(list_number, {}).get(phone)
        unsubscribed = contact is not None and contact.active
        if contact is not None and unsubscribed:
            self._deactivate(contact, list_number, "api", None)
        return Response.json(200, {"success": True, "unsubscribed": unsubscribed})


def _require_e164(value: str, field: str) -> None:
    if not E164.match(value):
        raise ValueError(f"{field} must be in E.164 format")


def _strings(value: object, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{field} must be a list of strings")
    return list(value)
