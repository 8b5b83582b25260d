"""The provider's own confirmation of an answer, kept with the outcome it confirms.

Evidence holds these fields and nothing else, each of one type, so nothing else (a key, a
header the provider echoes back) can reach it:

- ``http_status`` (int): the answer's HTTP status;
- ``provider_date`` (str): the response's ``Date`` header, as a UTC instant;
- ``request_id`` (str): the provider's request id header, when it sends one;
- ``opted_out_at`` (str): Tatango's ``subscriber.opted_out_at``, as a UTC instant;
- ``unsubscribed`` (bool): Trackly's ``unsubscribed`` flag.

Instants are ``timestamps.iso_utc`` text (``2026-11-20T10:00:00.000Z``). A value that cannot
be read is left out, never an error: evidence never changes an outcome.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import MappingProxyType

from optout_relay.domain.timestamps import iso_utc

EvidenceValue = str | int | bool
Evidence = Mapping[str, EvidenceValue]

EMPTY_EVIDENCE: Evidence = MappingProxyType({})
# The names providers and the gateways in front of them commonly give a request id, in the
# order they are looked for (headers arrive with lower-case names).
REQUEST_ID_HEADERS = ("x-request-id", "x-amzn-requestid", "x-amz-request-id", "request-id")
MAX_REQUEST_ID = 128
_MAX_INSTANT_TEXT = 64
_UNSAFE_IN_REQUEST_ID = re.compile(r"[^A-Za-z0-9._:=+/-]")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_REQUEST_ID = re.compile(rf"^[A-Za-z0-9._:=+/-]{{1,{MAX_REQUEST_ID}}}$")


def _is_instant(value: object) -> bool:
    return isinstance(value, str) and _INSTANT.match(value) is not None


def _is_request_id(value: object) -> bool:
    return isinstance(value, str) and _REQUEST_ID.match(value) is not None


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_http_status(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599


_FIELDS = {
    "http_status": _is_http_status,
    "provider_date": _is_instant,
    "request_id": _is_request_id,
    "opted_out_at": _is_instant,
    "unsubscribed": _is_bool,
}


def no_evidence() -> Evidence:
    return EMPTY_EVIDENCE


def frozen_evidence(values: Mapping[str, object]) -> Evidence:
    """An immutable copy of the known fields whose values have their field's form; the rest
    (``None``, unknown names, anything malformed) is dropped."""
    if not values:
        return EMPTY_EVIDENCE
    kept: dict[str, EvidenceValue] = {}
    for name, value in values.items():
        check = _FIELDS.get(name)
        if check is not None and check(value):
            kept[name] = value  # type: ignore[assignment]  # the check narrowed it
    return MappingProxyType(kept)


def http_date_utc(value: str | None) -> str | None:
    """An HTTP ``Date`` header (RFC 9110: always GMT) as a UTC instant; ``None`` if unreadable."""
    if not value or len(value) > _MAX_INSTANT_TEXT:
        return None
    try:
        moment = parsedate_to_datetime(value.strip())
        if moment.tzinfo is None:  # "-0000": GMT, as every HTTP date is
            moment = moment.replace(tzinfo=UTC)
        return iso_utc(moment)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def instant_utc(value: object) -> str | None:
    """An ISO-8601 timestamp with an offset (Tatango's come with mixed offsets) as a UTC
    instant. ``None`` when unreadable, or without an offset: its hour would be a guess."""
    if not isinstance(value, str) or len(value) > _MAX_INSTANT_TEXT:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        return None if moment.utcoffset() is None else iso_utc(moment)
    except (ValueError, OverflowError):
        return None


def request_id_from(headers: Mapping[str, str], secrets: Iterable[str | None] = ()) -> str | None:
    """The first request id header the response has, its unsafe characters dropped and its
    length capped; ``None`` when there is none, or when it holds one of ``secrets``."""
    for name in REQUEST_ID_HEADERS:
        raw = headers.get(name) or ""
        cleaned = _UNSAFE_IN_REQUEST_ID.sub("", raw)
        if not cleaned:
            continue
        for secret in filter(None, secrets):
            safe_form = _UNSAFE_IN_REQUEST_ID.sub("", secret)
            if secret in raw or (safe_form and safe_form in cleaned):
                return None
        return cleaned[:MAX_REQUEST_ID]
    return None
