"""How each provider's webhook is authenticated. Every comparison is constant-time.

- Tatango signs nothing: its callback URL holds a long random token, in the path
  (``/tatango/<token>``) or, as Tatango's own examples carry a secret, in the query
  (``?token=<token>``).
- Trackly sends ``X-Trackly-Signature``, an HMAC-SHA256 with the endpoint's secret. Its
  docs do not spell out the signed string or the encoding: we assume the raw body is
  signed, and accept the digest as hex, as ``sha256=<hex>`` or as base64 (standard or
  URL-safe, padded or not). Change ``trackly_signature_matches`` alone if Trackly says
  otherwise.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from urllib.parse import parse_qs, unquote

_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")
_DIGEST_BYTES = hashlib.sha256().digest_size
# Stored secrets shorter than this are taken as not configured (an empty placeholder).
MIN_SECRET_LENGTH = 16
TOKEN_QUERY_NAMES = ("token",)


def _usable(secrets: Iterable[str]) -> list[bytes]:
    return [s.encode() for s in secrets if len(s) >= MIN_SECRET_LENGTH]


def tatango_token_from(path_token: str | None, query: str) -> str | None:
    """The token a Tatango callback carries: the path segment, else ``?token=``."""
    if path_token:
        return unquote(path_token)
    values = parse_qs(query, keep_blank_values=True)
    for name in TOKEN_QUERY_NAMES:
        if values.get(name):
            return values[name][0]
    return None


def tatango_token_matches(expected: Iterable[str], given: str | None) -> bool:
    """``given`` is one of the ``expected`` tokens (current, or previous while rotating)."""
    if not given:
        return False
    offered = given.encode()
    matched = False
    for token in _usable(expected):  # no early exit: every token is compared
        matched |= hmac.compare_digest(token, offered)
    return matched


def _offered_digest(header: str) -> bytes | None:
    value = header.strip()
    if value[:7].lower() == "sha256=":
        value = value[7:].strip()
    if _HEX_DIGEST.match(value):
        return bytes.fromhex(value)
    padded = value + "=" * (-len(value) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            digest = decode(padded.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            continue
        if len(digest) == _DIGEST_BYTES:
            return digest
    return None


def trackly_signature_matches(secret: str, raw_body: bytes, header: str | None) -> bool:
    """``header`` is the HMAC-SHA256 of ``raw_body`` with ``secret``, in any accepted form."""
    if not header or len(secret) < MIN_SECRET_LENGTH:
        return False
    offered = _offered_digest(header)
    if offered is None:
        return False
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, offered)


def trackly_signed_by_any(secrets: Iterable[str], raw_body: bytes, header: str | None) -> bool:
    matched = False
    for secret in secrets:  # no early exit
        matched |= trackly_signature_matches(secret, raw_body, header)
    return matched
