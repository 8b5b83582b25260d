"""Tatango's webhooks (provider-docs NOTES, "Webhooks"): created per list with
``POST /api/v2/lists/{ID}/webhooks``, updated with ``PUT .../webhooks/{WEBHOOK_ID}``,
each with flags for the events it wants. An ``unsubscribe`` is sent when a subscriber
replies STOP and, as Tatango says, when the API unsubscribes one. Nothing is signed: the
callback URL is all the receiver has to go on.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from optout_relay_dev.simulators.tatango_records import Subscriber

EVENT_FLAGS = ("subscribe", "unsubscribe", "message_sent")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# The documented examples carry an offset such as -04:00.
EASTERN = timezone(timedelta(hours=-4))


@dataclass(frozen=True)
class TatangoWebhook:
    id: int
    list_id: str
    callback_url: str
    enabled: bool
    subscribe: bool
    unsubscribe: bool
    message_sent: bool
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "list_id": int(self.list_id),
            "callback_url": self.callback_url,
            "enabled": self.enabled,
            **{flag: getattr(self, flag) for flag in EVENT_FLAGS},
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "updated_at": self.updated_at.isoformat(timespec="seconds"),
        }


class WebhookRequestError(ValueError):
    """The create or update body is not what the API takes."""


def _settings(body: bytes) -> Mapping[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        document = None
    webhook = document.get("webhook") if isinstance(document, dict) else None
    if not isinstance(webhook, dict):
        raise WebhookRequestError('The body must be {"webhook": {"url": ...}}')
    return webhook


def _url(settings: Mapping[str, Any], required: bool) -> str | None:
    url = settings.get("url")
    if url is None and not required:
        return None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise WebhookRequestError("Url is invalid")
    return url


class TatangoWebhooks:
    """The webhooks of every list (not thread-safe: the simulator's lock guards it)."""

    def __init__(self) -> None:
        self._by_id: dict[int, TatangoWebhook] = {}
        self._ids = itertools.count(1)

    def create(self, list_id: str, body: bytes, now: datetime) -> TatangoWebhook:
        settings = _settings(body)
        url = _url(settings, required=True)
        assert url is not None
        flags = {flag: bool(settings.get(flag, False)) for flag in EVENT_FLAGS}
        webhook = TatangoWebhook(next(self._ids), list_id, url, True, created_at=now, updated_at=now, **flags)
        self._by_id[webhook.id] = webhook
        return webhook

    def update(self, list_id: str, webhook_id: int, body: bytes, now: datetime) -> TatangoWebhook | None:
        webhook = self._by_id.get(webhook_id)
        if webhook is None or webhook.list_id != list_id:
            return None
        settings = _settings(body)
        changes: dict[str, Any] = {flag: bool(settings[flag]) for flag in EVENT_FLAGS if flag in settings}
        if "enabled" in settings:
            changes["enabled"] = bool(settings["enabled"])
        url = _url(settings, required=False)
        if url is not None:
            changes["callback_url"] = url
        webhook = replace(webhook, updated_at=now, **changes)
        self._by_id[webhook_id] = webhook
        return webhook

    def for_unsubscribe(self, list_id: str) -> list[TatangoWebhook]:
        return [w for w in self._by_id.values() if w.list_id == list_id and w.enabled and w.unsubscribe]

    def all(self) -> list[TatangoWebhook]:
        return list(self._by_id.values())


def unsubscribe_payload(
    *, list_id: str, subscriber: Subscriber, account_id: int, opt_id: int, now: datetime
) -> dict[str, Any]:
    """An ``unsubscribe`` event as Tatango documents it."""
    opted_out = subscriber.opted_out_at or now
    return {
        "type": "unsubscribe",
        "timestamp": now.astimezone(EASTERN).isoformat(timespec="seconds"),
        "unsubscribe_date": opted_out.astimezone(EASTERN).isoformat(timespec="seconds"),
        "account_id": account_id,
        "campaign_id": int(list_id),
        "opt_id": opt_id,
        "phone_number": subscriber.phone_number,
        "carrier_id": subscriber.carrier,
        "carrier_name": subscriber.carrier_name,
        "tag_list": list(subscriber.tags),
        "first_name": subscriber.first_name,
        "last_name": subscriber.last_name,
        "email_address": subscriber.email,
        "zip_code": subscriber.zip_code,
        "birthdate": subscriber.birthdate,
        "first_opt_in_timestamp": subscriber.subscribed_at.astimezone(EASTERN).isoformat(timespec="seconds"),
        "last_opt_in_method": subscriber.opt_in_method,
        "last_opt_in_keyword": subscriber.keyword_name,
        "total_messages_received": subscriber.total_messages_received,
    }


def send_with_retries(request: urllib.request.Request, tries: int = 10) -> None:
    """As an operator's script would: a 429, a 5xx or no answer is tried again."""
    for attempt in range(1, tries + 1):
        try:
            with _NO_PROXY.open(request, timeout=5) as response:
                response.read()
                return
        except urllib.error.HTTPError as error:
            error.read()
            if (error.code != 429 and error.code < 500) or attempt == tries:
                raise
        except OSError:
            if attempt == tries:
                raise
