"""Provider answers that could not be written to the ledger, carried by a fresh copy of
the message (a message attribute) for the next delivery to record without calling again,
with the provider's evidence (``domain.evidence``), so it is not lost on the way."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from optout_relay.domain.model import CallResult, Status
from optout_relay.observability import logger

_CARRIED = (Status.UNSUBSCRIBED, Status.NOT_SUBSCRIBED)
MAX_CALLS = 10_000


@dataclass(frozen=True)
class Confirmation:
    target: str  # the ledger target (``<account>#<list>#<event_id>``)
    result: CallResult
    calls: int


def carry(confirmations: Iterable[Confirmation]) -> str:
    """The message attribute value for these answers."""
    answers = {
        c.target: {
            "status": c.result.status.value,
            "http_status": c.result.http_status,
            "calls": c.calls,
            "evidence": dict(c.result.evidence),
        }
        for c in confirmations
    }
    return json.dumps({"answers": answers}, separators=(",", ":"))


def carried(text: str | None) -> dict[str, Confirmation]:
    """The answers a copy carries, by target; those that do not read as answers are ignored."""
    if text is None:
        return {}
    try:
        answers: Any = json.loads(text)["answers"]
        found = {target: _read(target, answer) for target, answer in answers.items()}
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError):
        found = {}
    valid = {target: answer for target, answer in found.items() if answer is not None}
    if len(valid) != len(found) or not valid:
        logger.warning("Ignoring carried provider answers that do not read as answers")
    return valid


def _read(target: str, answer: Any) -> Confirmation | None:
    status, http_status, calls = Status(answer["status"]), answer["http_status"], answer["calls"]
    valid = (
        status in _CARRIED
        and isinstance(http_status, int)
        and 100 <= http_status <= 599
        and isinstance(calls, int)
        and 0 <= calls <= MAX_CALLS
    )
    if not valid:
        return None
    # Evidence keeps only well-formed known fields (``CallResult``); a copy written before
    # evidence was carried has none.
    evidence = answer.get("evidence")
    return Confirmation(
        target, CallResult(status, http_status, evidence if isinstance(evidence, dict) else {}), calls
    )
