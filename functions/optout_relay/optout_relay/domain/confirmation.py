"""A provider's answer that could not be written to the ledger, carried by a fresh copy of
the message (a message attribute) for the next delivery to record without calling again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from optout_relay.domain.model import CallResult, Status
from optout_relay.observability import logger

_CARRIED = (Status.UNSUBSCRIBED, Status.NOT_SUBSCRIBED)
MAX_CALLS = 10_000


@dataclass(frozen=True)
class Confirmation:
    target: str
    result: CallResult
    calls: int

    def attribute(self) -> str:
        return json.dumps(
            {
                "target": self.target,
                "status": self.result.status.value,
                "http_status": self.result.http_status,
                "calls": self.calls,
            },
            separators=(",", ":"),
        )

    @classmethod
    def read(cls, text: str | None, target: str) -> Confirmation | None:
        """The confirmation a copy carries for ``target``; ``None`` if none, or not for it."""
        if text is None:
            return None
        try:
            document: Any = json.loads(text)
            status = Status(document["status"])
            http_status, calls = document["http_status"], document["calls"]
            valid = (
                document["target"] == target
                and status in _CARRIED
                and isinstance(http_status, int)
                and 100 <= http_status <= 599
                and isinstance(calls, int)
                and 0 <= calls <= MAX_CALLS
            )
        except (TypeError, ValueError, KeyError, RecursionError):
            valid = False
        if not valid:
            logger.warning("Ignoring a carried confirmation that does not match this event")
            return None
        return cls(target, CallResult(status, http_status), calls)
