"""Webhook sending, as the providers do it: a POST with a JSON body to the callback URL,
retried on any answer but 2xx (or no answer) on the provider's schedule, then given up.

Deliveries go out from one background thread, in order of due time, after the API answer
that caused them (providers send webhooks asynchronously). ``time_scale`` shrinks the
schedule (0.001 in tests: Trackly's one-minute retry takes 60 ms). ``hold()`` keeps
everything queued until ``release()``: a test or the demo lets the relay record its
answers first, as usually happens, and decides when the webhooks arrive.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Self

from optout_relay_dev.lifecycle import Startable

# Tatango: "retried up to 10 times with exponential backoff (roughly 15 s, 16 s, 31 s, 96 s,
# 271 s, ... plus jitter)"; the later delays continue the doubling (no jitter here).
TATANGO_RETRY_DELAYS = (15.0, 16.0, 31.0, 96.0, 271.0, 542.0, 1084.0, 2168.0, 4336.0, 8672.0)
# Trackly: "retried up to 5 times (after 1 min, 5 min, 15 min, 1 h, 2 h)", then paused.
TRACKLY_RETRY_DELAYS = (60.0, 300.0, 900.0, 3600.0, 7200.0)
_TIMEOUT_SECONDS = 5.0
# No proxy from the environment: callback URLs are reached directly, as a provider would.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one webhook."""

    url: str
    body: bytes
    attempt: int  # 1 for the first try
    status: int | None  # None: no answer (refused connection, timeout)

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(order=True)
class _Job:
    due: float
    sequence: int
    url: str = field(compare=False)
    body: bytes = field(compare=False)
    headers: Mapping[str, str] = field(compare=False)
    attempt: int = field(compare=False, default=1)
    on_give_up: Callable[[], None] | None = field(compare=False, default=None)


class WebhookSender(Startable):
    def __init__(
        self,
        retry_delays: tuple[float, ...],
        *,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retry_delays = retry_delays
        self.time_scale = time_scale
        self._clock = clock
        self._queue: list[_Job] = []
        self._sequence = itertools.count()
        self._deliveries: list[Delivery] = []
        self._given_up: list[tuple[str, bytes]] = []
        self._in_flight = 0
        self._held = False
        self._stopping = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    # What tests and the demo look at
    @property
    def deliveries(self) -> list[Delivery]:
        with self._changed:
            return list(self._deliveries)

    @property
    def given_up(self) -> list[tuple[str, bytes]]:
        """(url, body) of every webhook whose last retry failed too."""
        with self._changed:
            return list(self._given_up)

    @property
    def pending(self) -> int:
        with self._changed:
            return len(self._queue) + self._in_flight

    def send(
        self, url: str, body: bytes, headers: Mapping[str, str], on_give_up: Callable[[], None] | None = None
    ) -> None:
        with self._changed:
            job = _Job(self._clock(), next(self._sequence), url, body, dict(headers), 1, on_give_up)
            heapq.heappush(self._queue, job)
            self._changed.notify_all()

    def hold(self) -> None:
        with self._changed:
            self._held = True

    def release(self) -> None:
        with self._changed:
            self._held = False
            self._changed.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Until nothing is queued or in flight (retries included); False on timeout or while held."""
        with self._changed:
            return self._changed.wait_for(
                lambda: (not self._queue and not self._in_flight) or self._held, timeout=timeout
            ) and not (self._queue or self._in_flight)

    # Lifecycle
    def start(self) -> Self:
        with self._changed:
            if self._thread is not None:
                raise RuntimeError("the webhook sender is already running")
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._changed.notify_all()
        if thread is not None:
            thread.join()

    def _next_job(self) -> _Job | None:
        with self._changed:
            while not self._stopping:
                if self._queue and not self._held:
                    wait = self._queue[0].due - self._clock()
                    if wait <= 0:
                        self._in_flight += 1
                        return heapq.heappop(self._queue)
                    self._changed.wait(wait)
                else:
                    self._changed.wait()
            return None

    def _run(self) -> None:
        while (job := self._next_job()) is not None:
            status = _post(job.url, job.body, job.headers)
            self._settle(job, status)

    def _settle(self, job: _Job, status: int | None) -> None:
        give_up: Callable[[], None] | None = None
        with self._changed:
            self._deliveries.append(Delivery(job.url, job.body, job.attempt, status))
            if status is None or not 200 <= status < 300:
                if job.attempt <= len(self.retry_delays):
                    delay = self.retry_delays[job.attempt - 1] * self.time_scale
                    job.due, job.sequence, job.attempt = (
                        self._clock() + delay,
                        next(self._sequence),
                        job.attempt + 1,
                    )
                    heapq.heappush(self._queue, job)
                else:
                    self._given_up.append((job.url, job.body))
                    give_up = job.on_give_up
            self._in_flight -= 1
            self._changed.notify_all()
        if give_up is not None:
            give_up()


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> int | None:
    if not url.startswith(("http://", "https://")):
        return None
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with _OPENER.open(request, timeout=_TIMEOUT_SECONDS) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.read()
        return int(error.code)
    except (OSError, ValueError):
        return None
