"""Rules for values that both the environment settings and the targets document hold:
a provider's base URL and a rate ceiling. One place, so the two cannot drift apart."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from fractions import Fraction
from urllib.parse import urlsplit

# The fleet budget is one DynamoDB item with a slot per call of the window, rewritten by
# every call: above this, its writes would pass one partition's 1,000 WCU a second.
MAX_BUDGETED_RPS = 100
UNLIMITED = "unlimited"
RATE_SYNTAX = f"calls per second up to {MAX_BUDGETED_RPS} (e.g. 10, 0.5 or 1200/3600) or '{UNLIMITED}'"


def base_url_problem(url: str) -> str | None:
    """What is wrong with a provider base URL, or ``None``: https, or http on loopback only."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"must be an https:// URL, got {url!r}"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return f"must use https:// (plain http:// is allowed only for a loopback host), got {url!r}"
    if parts.query or parts.fragment or parts.username:
        return f"must be a plain base URL without credentials, query or fragment, got {url!r}"
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Rate:
    """A parsed rate ceiling: calls per second, ``None`` for unlimited."""

    per_second: float | None


def parse_rate(raw: str) -> Rate | None:
    """``"10"``, ``"0.5"``, ``"1200/3600"`` or ``"unlimited"``; ``None`` if it is none of those
    (or above ``MAX_BUDGETED_RPS``, or not above zero)."""
    text = raw.strip().lower()
    if text == UNLIMITED:
        return Rate(None)
    try:
        value = float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        return None
    return Rate(value) if 0 < value <= MAX_BUDGETED_RPS else None
