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

    max_attempts: int = 3
    max_delay: float = 30.0
    base_delay: float = 0.5
    # The next call may take this long (PROVIDER_TIMEOUT_SECONDS): it must fit too.
    call_timeout: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

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
        if delay + self.call_timeout > remaining_seconds - SAFETY_MARGIN_SECONDS:
            return RetryDecision(delay=None)
        return RetryDecision(delay=delay)
