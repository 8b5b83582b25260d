"""Injected faults: seeded random rates for benchmarks and demos, an ordered script for tests.

A scripted fault applies to the next request, whatever it is; scripted faults are used
up before any random draw. Faults act before the provider logic runs, so a request
answered by a fault changes no provider state, except ``slow``: it answers late but
then does the work, as a real overloaded server would.

Random draws come from one seeded sequence in arrival order, or, ``per_request``, from
a sequence of each distinct request: the n-th arrival of the same request (method, path
and body) gets the same fault in every run with that seed, whatever order concurrent
clients' requests arrive in, so a run with several client processes can be replayed.
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from enum import StrEnum

SERVER_ERROR_STATUSES = (500, 502, 503)


class FaultKind(StrEnum):
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    SLOW = "slow"
    DROP = "drop"
    PASSTHROUGH = "passthrough"


@dataclass(frozen=True)
class Fault:
    """One injected fault; build it with the class methods."""

    kind: FaultKind
    status: int = 0
    retry_after: str | float | datetime | None = None
    retry_after_as_date: bool = False
    seconds: float = 0.0

    @classmethod
    def rate_limited(
        cls, retry_after: str | float | datetime | None = "1", *, as_http_date: bool = False
    ) -> Fault:
        """429. ``retry_after``: a header value as is, seconds, a moment, or ``None`` for no header.

        With ``as_http_date`` a number of seconds is sent as the HTTP date that far ahead.
        """
        if isinstance(retry_after, int | float) and retry_after < 0:
            raise ValueError("retry_after must not be negative")
        return cls(
            FaultKind.RATE_LIMITED,
            status=429,
            retry_after=retry_after,
            retry_after_as_date=as_http_date,
        )

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        if not 500 <= status <= 599:
            raise ValueError(f"a server error status is 5xx, got {status}")
        return cls(FaultKind.SERVER_ERROR, status=status)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer only after ``seconds`` (cut short, without an answer, when the server stops)."""
        if seconds <= 0:
            raise ValueError("a slow fault needs a positive delay")
        return cls(FaultKind.SLOW, seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without sending any response."""
        return cls(FaultKind.DROP)

    @classmethod
    def passthrough(cls) -> Fault:
        """Answer this request normally: a gap between scripted faults."""
        return cls(FaultKind.PASSTHROUGH)

    def retry_after_header(self, now: datetime | None = None) -> str | None:
        value = self.retry_after
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            return format_datetime(moment.astimezone(UTC), usegmt=True)
        if self.retry_after_as_date:
            moment = (now or datetime.now(UTC)) + timedelta(seconds=value)
            return format_datetime(moment.astimezone(UTC), usegmt=True)
        return str(math.ceil(value))


@dataclass(frozen=True)
class FaultRates:
    """Probabilities, per request, of each random fault (their sum is at most 1)."""

    rate_limited: float = 0.0
    server_error: float = 0.0
    slow: float = 0.0
    drop: float = 0.0
    slow_seconds: float = 5.0
    retry_after: str = "1"
    server_error_statuses: tuple[int, ...] = SERVER_ERROR_STATUSES

    def __post_init__(self) -> None:
        rates = (self.rate_limited, self.server_error, self.slow, self.drop)
        if any(not 0.0 <= rate <= 1.0 for rate in rates) or sum(rates) > 1.0 + 1e-9:
            raise ValueError("fault rates must each be within [0, 1] and sum to at most 1")
        if self.slow_seconds <= 0:
            raise ValueError("slow_seconds must be positive")
        if not self.server_error_statuses or any(
            not 500 <= status <= 599 for status in self.server_error_statuses
        ):
            raise ValueError("server_error_statuses must be 5xx statuses")

    @property
    def any(self) -> bool:
        return self.rate_limited + self.server_error + self.slow + self.drop > 0.0


class FaultInjector:
    """Decides, thread-safely, which fault (if any) the next request gets."""

    def __init__(
        self, rates: FaultRates | None = None, seed: int | None = None, *, per_request: bool = False
    ) -> None:
        self._lock = threading.Lock()
        self._rates = rates or FaultRates()
        self._random = random.Random(seed)
        self._script: deque[Fault] = deque()
        self.per_request = per_request
        # Unseeded, per-request draws are still fixed for this injector's lifetime.
        self._request_seed = seed if seed is not None else self._random.getrandbits(64)
        self._arrivals: Counter[bytes] = Counter()

    @property
    def rates(self) -> FaultRates:
        return self._rates

    def set_rates(self, rates: FaultRates) -> None:
        with self._lock:
            self._rates = rates

    def script(self, *faults: Fault) -> None:
        """Apply these faults, in order, to the next requests (after any already scripted)."""
        with self._lock:
            self._script.extend(faults)

    def clear_script(self) -> None:
        with self._lock:
            self._script.clear()

    @property
    def pending(self) -> int:
        """Scripted faults not used yet."""
        with self._lock:
            return len(self._script)

    def next_fault(self, request: bytes = b"") -> Fault | None:
        """The fault for the next request; ``request`` identifies it for ``per_request`` draws."""
        with self._lock:
            if self._script:
                fault = self._script.popleft()
                return None if fault.kind is FaultKind.PASSTHROUGH else fault
            if not self._rates.any:
                return None
            return self._draw(self._request_random(request) if self.per_request else self._random)

    def _request_random(self, request: bytes) -> random.Random:
        self._arrivals[request] += 1
        # A bytes seed is hashed with SHA-512: the same in every process and run.
        return random.Random(f"{self._request_seed}:{self._arrivals[request]}:".encode() + request)

    def _draw(self, source: random.Random) -> Fault | None:
        rates = self._rates
        draw = source.random()
        if draw < (edge := rates.rate_limited):
            return Fault.rate_limited(rates.retry_after)
        if draw < (edge := edge + rates.server_error):
            return Fault.server_error(source.choice(rates.server_error_statuses))
        if draw < (edge := edge + rates.slow):
            return Fault.slow(rates.slow_seconds)
        if draw < edge + rates.drop:
            return Fault.drop()
        return None
