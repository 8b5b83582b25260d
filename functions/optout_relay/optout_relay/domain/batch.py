"""What the relay learns about a whole batch before its records run: each message parsed
once, and the ledger state of every valid event read in shared round trips."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from optout_relay.domain.model import InboundMessage, OptOut, Status
from optout_relay.domain.ports import Ledger
from optout_relay.errors import InvalidEvent

ParseResult = OptOut | InvalidEvent


@dataclass(frozen=True)
class PreparedBatch:
    # message id -> (the body that was parsed, what it parsed to)
    parsed: Mapping[str, tuple[str, ParseResult]] = field(default_factory=dict)
    # (phone number, target) -> the settled status read, None when not settled
    settled: Mapping[tuple[str, str], Status | None] = field(default_factory=dict)

    def parsed_for(self, message: InboundMessage) -> ParseResult | None:
        found = self.parsed.get(message.message_id)
        return found[1] if found is not None and found[0] == message.body else None

    def provider_of(self, message: InboundMessage) -> str | None:
        parsed = self.parsed_for(message)
        return parsed.provider if isinstance(parsed, OptOut) else None

    def settled_status(self, optout: OptOut, ledger: Ledger) -> Status | None:
        """From the batch's read, or (for what it could not read) one consistent read now."""
        key = (optout.phone.e164, optout.target)
        return self.settled[key] if key in self.settled else ledger.settled_status(*key)
