"""The decisions: parse, skip what already succeeded, call the provider, retry or
dead-letter, and record every step in the ledger."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from optout_relay.domain.events import InvalidOptOut, parse_optout
from optout_relay.domain.model import (
    CallResult,
    Credentials,
    InboundMessage,
    LedgerEntry,
    OptOut,
    PartialOptOut,
    Status,
    ledger_target,
)
from optout_relay.domain.ports import DeadLetters, Ledger, RateBudget, SecretStore, SourceQueue
from optout_relay.domain.retry import RetryPolicy
from optout_relay.errors import (
    CredentialsRejected,
    InvalidEvent,
    PermanentError,
    RecordDeferred,
    RecordNotProcessed,
    TransientError,
)
from optout_relay.observability import OutcomeMetrics, logger, provider_subsegment
from optout_relay.providers.base import ProviderAdapter

METRIC_FOR_STATUS = {
    Status.UNSUBSCRIBED: "Unsubscribed",
    Status.NOT_SUBSCRIBED: "NotSubscribed",
    Status.REJECTED: "Rejected",
    Status.RETRYING: "Retried",
    Status.FAILED: "Failed",
}
UNKNOWN_PROVIDER = "unknown"
# After a 429 the fleet runs at half its budget for at least a minute (or the Retry-After).
RATE_LIMITED_FACTOR = 0.5
RATE_LIMITED_SECONDS = 60.0


@dataclass
class Relay:
    providers: Mapping[str, ProviderAdapter]
    secret_ids: Mapping[str, str]
    ledger: Ledger
    dead_letters: DeadLetters
    secrets: SecretStore
    source_queue: SourceQueue
    retry_policy: RetryPolicy
    metrics: OutcomeMetrics
    default_region: str = "US"
    max_receive_count: int = 5
    sleep: Callable[[float], None] = time.sleep
    budget: RateBudget | None = None
    rate_limits: Mapping[str, float | None] = field(default_factory=dict)
    _prefetched: dict[tuple[str, str], Status | None] = field(default_factory=dict, init=False, repr=False)

    def prefetch(self, messages: list[InboundMessage]) -> None:
        """Reads the ledger state of a whole batch in as few round trips as the ledger allows."""
        keys = []
        for message in messages:
            try:
                optout = parse_optout(message, self.providers, self.default_region)
            except InvalidEvent:
                continue
            keys.append((optout.phone.e164, optout.target))
        try:
            self._prefetched = self.ledger.settled_statuses(keys) if keys else {}
        except TransientError as error:  # each record reads its own item instead
            logger.warning("Could not prefetch the ledger", extra={"error_code": error.code})
            self._prefetched = {}

    def handle(self, message: InboundMessage, remaining_seconds: Callable[[], float]) -> Status:
        """Process one record. Returns its settled status, or raises ``RecordNotProcessed``."""
        try:
            optout = parse_optout(message, self.providers, self.default_region)
        except InvalidEvent as error:
            partial = error.partial if isinstance(error, InvalidOptOut) else PartialOptOut(message.message_id)
            return self._reject(message, partial, error)

        logger.thread_safe_append_keys(
            event_id=optout.event_id, provider=optout.provider, phone=optout.phone.masked
        )
        key = (optout.phone.e164, optout.target)
        settled = self._prefetched[key] if key in self._prefetched else self.ledger.settled_status(*key)
        if settled is not None:
            logger.info("Already settled; no provider call", extra={"status": settled.value})
            self.metrics.count(optout.provider, "DuplicateSkipped")
            return settled
        return self._unsubscribe(message, optout, remaining_seconds)

    def _unsubscribe(
        self, message: InboundMessage, optout: OptOut, remaining_seconds: Callable[[], float]
    ) -> Status:
        adapter = self.providers[optout.provider]
        calls, refetch, refetched = 0, False, False
        while True:
            try:
                # Credentials before the budget: nothing slow may sit between a grant and its
                # call, or the call could land outside the window the grant accounts for.
                credentials = self._credentials(adapter, refresh=refetch)
                refetch = False
                wait = self._budget_wait(optout.provider, waited=_has_waited(message))
                if wait > 0:
                    return self._defer(message, optout, wait, calls)
                result = self._call(adapter, optout, credentials, refetched=refetched)
                calls += 1
            except CredentialsRejected:
                # A rotated key: fetch the secret again and go round once more, taking
                # budget for that call too.
                calls += 1
                logger.warning("Provider refused the credentials; fetching the secret again")
                refetch = refetched = True
                continue
            except PermanentError as error:
                calls += 1
                return self._reject(message, optout, error, calls=calls)
            except TransientError as error:
                calls += 1
                self._shrink_budget_after(optout.provider, error)
                decision = self.retry_policy.decide(calls, error, remaining_seconds())
                if decision.delay is None:
                    return self._give_back(message, optout, error, calls, decision.defer_for)
                logger.info(
                    "Transient failure; retrying in this invocation",
                    extra={
                        "error_code": error.code,
                        "http_status": error.http_status,
                        "delay": round(decision.delay, 2),
                    },
                )
                self.sleep(decision.delay)
                continue
            self._write(message, optout, result.status, calls, http_status=result.http_status)
            logger.info(
                "Opt-out relayed",
                extra={"status": result.status.value, "http_status": result.http_status},
            )
            self.metrics.count(optout.provider, METRIC_FOR_STATUS[result.status])
            return result.status

    def _budget_wait(self, provider: str, *, waited: bool) -> float:
        limit = self.rate_limits.get(provider)
        if self.budget is None or limit is None:
            return 0.0
        try:
            return self.budget.take(provider, limit, waited=waited)
        except TransientError as error:  # the budget store is down: wait rather than exceed the limit
            logger.warning("Rate budget unavailable; deferring", extra={"error_code": error.code})
            return 1.0

    def _shrink_budget_after(self, provider: str, error: TransientError) -> None:
        if error.code != "rate_limited" or self.budget is None or self.rate_limits.get(provider) is None:
            return
        try:
            self.budget.shrink(
                provider, RATE_LIMITED_FACTOR, max(RATE_LIMITED_SECONDS, error.retry_after or 0)
            )
        except TransientError:
            logger.warning("Could not shrink the rate budget after a 429")

    def _defer(self, message: InboundMessage, optout: OptOut, wait: float, calls: int) -> Status:
        """No budget: come back when there is some. Never slept on, never counted as an error."""
        delay = max(1, math.ceil(wait))
        self.metrics.count(optout.provider, "Deferred")
        if calls:
            self._write(message, optout, Status.RETRYING, calls)
        if message.receive_count >= self.max_receive_count - 1 and not message.is_fifo:
            # One more receive would hand the message to the redrive policy: a budget wait
            # is not a failure, so a fresh copy (receive count 0) takes its place.
            self.source_queue.requeue(message, delay, optout.event_id)
            logger.info("No rate budget; re-enqueued as a fresh message", extra={"delay": delay})
            return Status.DEFERRED
        self.source_queue.defer(message, delay)
        logger.info("No rate budget; deferred", extra={"delay": delay})
        raise RecordDeferred(f"no {optout.provider} rate budget for {delay} s")

    def _credentials(self, adapter: ProviderAdapter, *, refresh: bool) -> Credentials:
        return adapter.credentials_from(self.secrets.get(self.secret_ids[adapter.name], refresh=refresh))

    def _call(
        self, adapter: ProviderAdapter, optout: OptOut, credentials: Credentials, *, refetched: bool
    ) -> CallResult:
        """One provider call. A 401 with a freshly fetched secret is transient, not retried now."""
        started = time.monotonic()
        with provider_subsegment(adapter.name):
            try:
                return adapter.unsubscribe(optout.phone, optout.list_ref, credentials)
            except CredentialsRejected as error:
                if not refetched:
                    raise
                raise TransientError(
                    "unauthorized",
                    f"{adapter.name} refused the credentials even after fetching "
                    f"{self.secret_ids[adapter.name]} again",
                    http_status=error.http_status,
                    retry_now=False,
                ) from None
            finally:
                self.metrics.latency(adapter.name, time.monotonic() - started)

    def _give_back(
        self,
        message: InboundMessage,
        optout: OptOut,
        error: TransientError,
        calls: int,
        defer_for: float | None,
    ) -> Status:
        final = message.receive_count >= self.max_receive_count
        status = Status.FAILED if final else Status.RETRYING
        self._write(message, optout, status, calls, http_status=error.http_status, error=error)
        self.metrics.count(optout.provider, METRIC_FOR_STATUS[status])
        if defer_for is not None and not final:
            self.source_queue.defer(message, defer_for)
        logger.warning(
            "Transient failure; returning the record to the queue"
            + (" for the last time: the redrive policy moves it to the DLQ" if final else ""),
            extra={
                "error_code": error.code,
                "http_status": error.http_status,
                "receive_count": message.receive_count,
                "deferred_seconds": defer_for,
            },
        )
        raise RecordNotProcessed(error)

    def _reject(
        self,
        message: InboundMessage,
        event: OptOut | PartialOptOut,
        error: PermanentError,
        calls: int = 0,
    ) -> Status:
        provider = event.provider or UNKNOWN_PROVIDER
        if event.phone is not None and event.provider is not None:
            logger.thread_safe_append_keys(
                event_id=event.event_id, provider=event.provider, phone=event.phone.masked
            )
            self._write(message, event, Status.REJECTED, calls, http_status=error.http_status, error=error)
        extra = {"event_id": event.event_id}
        if event.provider:
            extra["provider"] = event.provider
        self.dead_letters.send(message, error.code, error.message, extra)
        logger.warning(
            "Permanent failure; sent to the dead-letter queue",
            extra={
                "error_code": error.code,
                "error_message": error.message,
                "http_status": error.http_status,
            },
        )
        self.metrics.count(provider, "Rejected")
        self.metrics.count(provider, "DeadLettered")
        return Status.REJECTED

    def _write(
        self,
        message: InboundMessage,
        event: OptOut | PartialOptOut,
        status: Status,
        calls: int,
        *,
        http_status: int | None = None,
        error: PermanentError | TransientError | None = None,
    ) -> None:
        assert event.phone is not None and event.provider is not None
        list_ref = event.list_ref
        entry = LedgerEntry(
            phone_number=event.phone.e164,
            target=ledger_target(event.provider, list_ref.value if list_ref else None, event.event_id),
            event_id=event.event_id,
            provider=event.provider,
            status=status,
            message_id=message.message_id,
            receive_count=message.receive_count,
            list_field=list_ref.field if list_ref else None,
            list_value=list_ref.value if list_ref else None,
            attempts_added=calls,
            http_status=http_status,
            error_code=error.code if error else None,
            error_message=error.message if error else None,
            occurred_at=event.occurred_at,
            source=event.source,
        )
        if not self.ledger.record(entry):
            logger.info("A success was already recorded for this target; ledger left as it was")


def _has_waited(message: InboundMessage) -> bool:
    """Deferred or retried before, or a re-enqueued copy: its turn for budget has come."""
    return message.receive_count > 1 or message.pinned_event_id is not None
