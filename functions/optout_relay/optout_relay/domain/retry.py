"""When to retry a transient failure inside one invocation, and for how long to wait."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from optout_relay.errors import TransientError

# Time kept back at the end of an invocation to write the ledger and report the batch.
SAFETY_MARGIN_SECONDS = 2.0


@dataclass(frozen=True)
class RetryDecision:
    delay: float | None  # seconds to sleep before the next attempt; None: give the record back to SQS
    defer_for: float | None = None  # when set, make the message invisible this long (a long Retry-After)


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter, honouring Retry-After, bounded by the invocation."""

    # A provider call may take this long (PROVIDER_TIMEOUT_SECONDS): no call starts unless
    # it can finish, with its ledger write, before the invocation's deadline. No default:
    # a policy built without it would start calls that cannot finish.
    call_timeout: float
    max_attempts: int = 3
    max_delay: float = 30.0
    base_delay: float = 0.5
    rng: random.Random = field(default_factory=random.Random)

    def call_fits(self, remaining_seconds: float, after: float = 0.0) -> bool:
        """Whether a call started ``after`` seconds from now ends before the safety margin."""
        return after + self.call_timeout <= remaining_seconds - SAFETY_MARGIN_SECONDS

    def decide(self, attempt: int, error: TransientError, remaining_seconds: float) -> RetryDecision:
        """``attempt`` is the number of calls made so far for this record in this invocation."""
        if error.retry_after is not None and error.retry_after > self.max_delay:
            return RetryDecision(delay=None, defer_for=error.retry_after)
        if attempt >= self.max_attempts or not error.retry_now:
            return RetryDecision(delay=None)
        if error.retry_after is not None:
            delay = error.retry_after
        else:
            delay = self.rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
        if not self.call_fits(remaining_seconds, after=delay):
            return RetryDecision(delay=None)
        return RetryDecision(delay=delay)
