"""A request and an answer, and how a Lambda function URL (payload format 2.0) carries them.

The function URL lower-cases header names, gives the path undecoded in ``rawPath`` and
the query in ``rawQueryString``, and base64-encodes a body it does not take for text.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    # The body as it arrived was longer than this many bytes (before any decoding).
    raw_length: int = 0
    request_id: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class HttpResponse:
    status: int
    document: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status_code: int, /, **document: Any) -> HttpResponse:
        return cls(status_code, document)

    def with_header(self, name: str, value: str) -> HttpResponse:
        return HttpResponse(self.status, self.document, {**self.headers, name: value})


class MalformedEvent(Exception):
    """The event is not a function URL request (or its base64 body does not decode)."""


def request_from_function_url(event: Mapping[str, Any], max_body_bytes: int) -> HttpRequest:
    """The request a function URL event carries. A body over ``max_body_bytes`` is not
    decoded (``raw_length`` says how long it was)."""
    http = (event.get("requestContext") or {}).get("http") or {}
    method = str(http.get("method") or "")
    if not method:
        raise MalformedEvent("not a function URL event (no requestContext.http.method)")
    raw = event.get("body") or ""
    if not isinstance(raw, str):
        raise MalformedEvent("the body is not a string")
    encoded = bool(event.get("isBase64Encoded"))
    length = len(raw) * 3 // 4 if encoded else len(raw.encode("utf-8"))
    body = b""
    if length <= max_body_bytes:
        try:
            body = base64.b64decode(raw, validate=True) if encoded else raw.encode("utf-8")
        except (binascii.Error, ValueError):
            raise MalformedEvent("the base64 body does not decode") from None
        length = len(body)
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    return HttpRequest(
        method=method.upper(),
        path=str(event.get("rawPath") or http.get("path") or "/"),
        query=str(event.get("rawQueryString") or ""),
        headers=headers,
        body=body,
        raw_length=length,
        request_id=str((event.get("requestContext") or {}).get("requestId") or ""),
    )


def function_url_response(response: HttpResponse) -> dict[str, Any]:
    return {
        "statusCode": response.status,
        "headers": {"Content-Type": "application/json", **response.headers},
        "body": json.dumps(dict(response.document)),
        "isBase64Encoded": False,
    }
