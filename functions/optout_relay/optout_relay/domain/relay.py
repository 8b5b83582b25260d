"""The decisions: parse, skip what already succeeded, call the provider, retry or
dead-letter, and record every step in the ledger."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from optout_relay.domain.events import InvalidOptOut, parse_optout
from optout_relay.domain.model import (
    CallResult,
    InboundMessage,
    LedgerEntry,
    OptOut,
    PartialOptOut,
    Status,
    ledger_target,
)
from optout_relay.domain.ports import DeadLetters, Ledger, SecretStore, SourceQueue
from optout_relay.domain.retry import RetryPolicy
from optout_relay.errors import (
    CredentialsRejected,
    InvalidEvent,
    PermanentError,
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
        calls = 0
        while True:
            try:
                result, made = self._call_with_fresh_credentials(adapter, optout)
                calls += made
            except PermanentError as error:
                calls += 1
                return self._reject(message, optout, error, calls=calls)
            except TransientError as error:
                calls += 1
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

    def _call_with_fresh_credentials(
        self, adapter: ProviderAdapter, optout: OptOut
    ) -> tuple[CallResult, int]:
        """One provider call; on a 401, fetch the secret again once and call once more."""
        secret_id = self.secret_ids[adapter.name]
        try:
            return self._call(adapter, optout, refresh=False), 1
        except CredentialsRejected:
            logger.warning("Provider refused the credentials; fetching the secret again")
        try:
            return self._call(adapter, optout, refresh=True), 2
        except CredentialsRejected as error:
            raise TransientError(
                "unauthorized",
                f"{adapter.name} refused the credentials even after fetching {secret_id} again",
                http_status=error.http_status,
                retry_now=False,
            ) from None

    def _call(self, adapter: ProviderAdapter, optout: OptOut, *, refresh: bool) -> CallResult:
        credentials = adapter.credentials_from(
            self.secrets.get(self.secret_ids[adapter.name], refresh=refresh)
        )
        started = time.monotonic()
        with provider_subsegment(adapter.name):
            try:
                return adapter.unsubscribe(optout.phone, optout.list_ref, credentials)
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
