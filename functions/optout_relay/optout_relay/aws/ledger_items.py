"""The ledger's item layout, and how its items read as one outcome per target.

A target (``provider#list#event_id``, the sort key of old) owns up to four items in its
phone number's partition, each written only by outcomes of one kind:

- ``<target>``: the progress item (``retrying`` steps, added to in place);
- ``<target>#unsubscribed`` and ``<target>#not_subscribed``: the provider's answers;
- ``<target>#final``: ``rejected`` or ``failed``.

So every final outcome is a whole-item put that needs no condition (they travel in
shared ``BatchWriteItem`` round trips), and no write can replace a stronger outcome: a
failure or a duplicate's "not subscribed" lands in an item of its own. A target's status
is the strongest of its items (``unsubscribed`` > ``not_subscribed`` > ``rejected`` /
``failed`` > ``retrying``), its ``attempts`` their sum. Items written before this layout
(a success in the progress item) read the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from optout_relay.domain.model import Status

PARTITION_KEY = "phone_number"
SORT_KEY = "target"
TARGET_KEY = "target_key"  # on every item: the target it belongs to
TTL_ATTRIBUTE = "expires_at"
# The by-received-day index: every item of an opt-out, by the UTC day it was received.
RECEIVED_INDEX = "by-received-day"
RECEIVED_DAY = "received_day"
RECEIVED_KEY = "received_key"

_SUFFIX = {
    Status.UNSUBSCRIBED: "#unsubscribed",
    Status.NOT_SUBSCRIBED: "#not_subscribed",
    Status.REJECTED: "#final",
    Status.FAILED: "#final",
}
STRENGTH = {
    Status.UNSUBSCRIBED: 4,
    Status.NOT_SUBSCRIBED: 3,
    Status.REJECTED: 2,
    Status.FAILED: 2,
    Status.RETRYING: 1,
}
FINAL = frozenset(_SUFFIX)


def item_key(target: str, status: Status) -> str:
    """The sort key an outcome of ``status`` is written to."""
    return target + _SUFFIX.get(status, "")


def summary_key(event_id: str) -> str:
    """A fan-out's summary item; ``~`` is in no provider name or account id, so it sorts
    apart from every target (and after them)."""
    return f"~summary#{event_id}"


def keys_of(target: str) -> tuple[str, ...]:
    """Every sort key a target's items can have: read them all to know its status."""
    return (target, *sorted({target + suffix for suffix in _SUFFIX.values()}))


def strength(status: object) -> int:
    try:
        return STRENGTH[Status(str(status))]
    except ValueError:
        return 0


def target_of(item: Mapping[str, Any]) -> str:
    return str(item.get(TARGET_KEY) or item.get(SORT_KEY, ""))


def merge_items(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per target, in the order first seen: the strongest item's attributes, with
    ``attempts`` summed over the target's items and the earliest ``first_seen_at``."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        if "status" in item:
            grouped.setdefault(target_of(item), []).append(item)
    merged = []
    for target, group in grouped.items():
        best = max(group, key=lambda item: strength(item.get("status")))
        row = dict(best)
        row[SORT_KEY] = target
        row["attempts"] = sum(int(str(item.get("attempts", 0) or 0)) for item in group)
        firsts = [str(item["first_seen_at"]) for item in group if item.get("first_seen_at")]
        if firsts:
            row["first_seen_at"] = min(firsts)
        merged.append(row)
    return merged
