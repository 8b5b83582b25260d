"""Is a STOP webhook the echo of the relay's own unsubscribe call?

The relay's unsubscribe calls make providers fire the same webhook as a STOP reply
(Tatango says so; Trackly may). Republishing those would fan every opt-out out again.
A webhook is an echo when the ledger already holds an ``unsubscribed`` outcome for the
same number at the same provider list, settled within ``ECHO_WINDOW`` of the webhook's
unsubscribe time, by an event other than this webhook's own (a provider's retry of a
webhook we published is not an echo of ourselves: it is published again under the same
``event_id``, and the relay's idempotency makes it one opt-out). A genuine new STOP
later (the person subscribed again, then replied STOP) is outside the window.

This is best effort: a webhook can overtake the relay's ledger write, and the relay
checks again when it handles the event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from webhook_receiver.stop_event import StopEvent

ECHO_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class SettledUnsubscribe:
    """An ``unsubscribed`` outcome in the ledger, as the echo check reads it."""

    provider: str
    list_key: str  # "4242", "+18005551234"
    event_id: str
    settled_at: datetime  # aware


def echo_of(
    stop: StopEvent, outcomes: Iterable[SettledUnsubscribe], window: timedelta = ECHO_WINDOW
) -> SettledUnsubscribe | None:
    """The outcome ``stop`` echoes, or ``None`` for a STOP to publish."""
    for outcome in outcomes:
        if (
            outcome.provider == stop.provider
            and outcome.list_key == stop.list_key
            and outcome.event_id != stop.event_id
            and abs(outcome.settled_at - stop.occurred_at) <= window
        ):
            return outcome
    return None
