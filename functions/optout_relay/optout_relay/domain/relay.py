"""The decisions: parse, skip what already succeeded, call the provider, retry, defer or
dead-letter, and record every step in the ledger.

Every record gets exactly one ``RecordOutcome``, decided here and returned, never
raised: whatever goes wrong while handling one record (even a bug) is that record's
alone, and on its last receive the function dead-letters it with a reason.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from optout_relay.domain.batch import ParseResult, PreparedBatch
from optout_relay.domain.confirmation import Confirmation
from optout_relay.domain.events import InvalidOptOut, parse_optout
from optout_relay.domain.model import (
    CallResult,
    Credentials,
    InboundMessage,
    LedgerEntry,
    OptOut,
    PartialOptOut,
    RecordOutcome,
    Status,
    ledger_target,
)
from optout_relay.domain.ports import DeadLetters, Ledger, RateBudget, SecretStore, SourceQueue
from optout_relay.domain.retry import RetryPolicy
from optout_relay.errors import (
    CredentialsRejected,
    InvalidEvent,
    PermanentError,
    RelayError,
    TransientError,
)
from optout_relay.masking import mask_numbers
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
# A provider's answer is written with a few quick retries before it travels with a copy.
SETTLE_WRITE_TRIES = 3
SETTLE_WRITE_BACKOFF_SECONDS = 0.2
CARRY_DELAY_SECONDS = 2
MAX_UNWRITTEN = 10_000


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
    # Provider answers that could be neither written nor carried by a copy (DynamoDB and
    # SQS both failing): kept for a redelivery this execution environment handles.
    _unwritten: dict[tuple[str, str], Confirmation] = field(default_factory=dict, init=False, repr=False)

    def prepare(self, messages: list[InboundMessage]) -> PreparedBatch:
        """Parses a batch once and reads its ledger state in as few round trips as the ledger
        allows. Whatever fails here leaves that work to each record's own handling."""
        parsed: dict[str, tuple[str, ParseResult]] = {}
        for message in messages:
            try:
                parsed[message.message_id] = (message.body, self._parse(message))
            except Exception:  # the record meets it again, alone, in handle()
                logger.warning(
                    "Could not parse a record ahead of the batch", extra={"message_id": message.message_id}
                )
        keys = [
            (result.phone.e164, result.target) for _, result in parsed.values() if isinstance(result, OptOut)
        ]
        try:
            settled = self.ledger.settled_statuses(keys) if keys else {}
        except Exception as error:  # each record reads its own item instead
            logger.warning("Could not read the batch's ledger state", extra={"error": _describe(error)})
            settled = {}
        return PreparedBatch(parsed, settled)

    def handle(
        self,
        message: InboundMessage,
        remaining_seconds: Callable[[], float],
        batch: PreparedBatch | None = None,
    ) -> RecordOutcome:
        """Process one record and say what becomes of it. Never raises."""
        batch = batch or PreparedBatch()
        try:
            return self._handle(message, remaining_seconds, batch)
        except Exception as error:  # a bug must cost this record only
            return self._unexpected(message, error, batch.provider_of(message))

    def _handle(
        self, message: InboundMessage, remaining_seconds: Callable[[], float], batch: PreparedBatch
    ) -> RecordOutcome:
        parsed = batch.parsed_for(message)
        if parsed is None:
            parsed = self._parse(message)
        if isinstance(parsed, InvalidEvent):
            partial = (
                parsed.partial if isinstance(parsed, InvalidOptOut) else PartialOptOut(message.message_id)
            )
            return self._reject(message, partial, parsed)
        optout = parsed
        logger.thread_safe_append_keys(
            event_id=mask_numbers(optout.event_id), provider=optout.provider, phone=optout.phone.masked
        )
        key = (optout.phone.e164, optout.target)
        carried = Confirmation.read(message.carried_confirmation, optout.target) or self._unwritten.get(key)
        if carried is not None:
            logger.info("Recording the provider's answer carried by this copy; no provider call")
            return self._settle(message, optout, carried.result, carried.calls, remaining_seconds)
        try:
            settled = batch.settled_status(optout, self.ledger)
        except TransientError as error:
            return self._return_to_queue(message, optout, error, calls=0)
        if settled is not None:
            logger.info("Already settled; no provider call", extra={"status": settled.value})
            self.metrics.count(optout.provider, "DuplicateSkipped")
            return RecordOutcome.done(settled)
        return self._unsubscribe(message, optout, remaining_seconds)

    def _parse(self, message: InboundMessage) -> ParseResult:
        try:
            return parse_optout(message, self.providers, self.default_region)
        except InvalidEvent as error:
            return error

    def _unsubscribe(
        self, message: InboundMessage, optout: OptOut, remaining_seconds: Callable[[], float]
    ) -> RecordOutcome:
        adapter = self.providers[optout.provider]
        calls = tries = 0
        refetch = refetched = False
        while True:
            if not self.retry_policy.call_fits(remaining_seconds()):
                self.metrics.count(optout.provider, "OutOfTime")
                return self._postpone(message, optout, calls, "out_of_time", wait=1)
            try:
                # Credentials before the budget: nothing slow may sit between a grant and its
                # call, or the call could land outside the window the grant accounts for.
                credentials = self._credentials(adapter, refresh=refetch)
                refetch = False
                wait = self._budget_wait(optout.provider, waited=_has_waited(message))
                if wait > 0:
                    self.metrics.count(optout.provider, "Deferred")
                    return self._postpone(message, optout, calls, "no_rate_budget", wait)
                calls += 1
                result = self._call(adapter, optout, credentials, refetched=refetched)
            except CredentialsRejected:
                # A rotated key: fetch the secret again and go round once more, taking budget
                # for that call too.
                logger.warning("Provider refused the credentials; fetching the secret again")
                refetch = refetched = True
                continue
            except PermanentError as error:
                return self._reject(message, optout, error, calls=calls)
            except TransientError as error:
                tries += 1
                self._shrink_budget_after(optout.provider, error)
                decision = self.retry_policy.decide(tries, error, remaining_seconds())
                if decision.delay is None:
                    return self._return_to_queue(
                        message, optout, error, calls=calls, defer_for=decision.defer_for
                    )
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
            return self._settle(message, optout, result, calls, remaining_seconds)

    def _settle(
        self,
        message: InboundMessage,
        optout: OptOut,
        result: CallResult,
        calls: int,
        remaining_seconds: Callable[[], float],
    ) -> RecordOutcome:
        """The provider has answered: its answer reaches the ledger, or travels with a copy."""
        entry = self._entry(message, optout, result.status, calls, http_status=result.http_status)
        for attempt in range(SETTLE_WRITE_TRIES):
            try:
                if not self.ledger.record(entry):
                    logger.info("A success was already recorded for this target; ledger left as it was")
                break
            except TransientError as error:
                delay = SETTLE_WRITE_BACKOFF_SECONDS * 2**attempt
                if attempt + 1 == SETTLE_WRITE_TRIES or delay > remaining_seconds() - 1:
                    return self._carry(message, optout, result, calls, error)
                self.sleep(delay)
        self._unwritten.pop((optout.phone.e164, optout.target), None)
        logger.info(
            "Opt-out relayed", extra={"status": result.status.value, "http_status": result.http_status}
        )
        self.metrics.count(optout.provider, METRIC_FOR_STATUS[result.status])
        return RecordOutcome.done(result.status)

    def _carry(
        self, message: InboundMessage, optout: OptOut, result: CallResult, calls: int, error: TransientError
    ) -> RecordOutcome:
        confirmation = Confirmation(optout.target, result, calls)
        details = {"status": result.status.value, "http_status": result.http_status, "calls": calls}
        try:
            self.source_queue.requeue(
                message, CARRY_DELAY_SECONDS, optout.event_id, confirmation=confirmation.attribute()
            )
        except TransientError as failure:
            if len(self._unwritten) < MAX_UNWRITTEN:
                self._unwritten[(optout.phone.e164, optout.target)] = confirmation
            logger.error(
                "The provider's answer could neither be written nor carried: kept in memory for "
                "the record's redelivery",
                extra={**details, "error_code": error.code, "requeue_error_code": failure.code},
            )
            return RecordOutcome.give_back(error.code)
        logger.warning(
            "Ledger write failed after the provider answered; the answer travels with a fresh copy",
            extra={**details, "error_code": error.code},
        )
        self.metrics.count(optout.provider, "ConfirmationCarried")
        return RecordOutcome.done(result.status)

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

    def _postpone(
        self, message: InboundMessage, optout: OptOut, calls: int, reason: str, wait: float
    ) -> RecordOutcome:
        """Not now (no rate budget, or no time left to call): come back later. Never slept on,
        never counted as an error, and never a reason for the redrive policy to take it."""
        delay = max(1, math.ceil(wait))
        if calls:
            self._try_write(message, optout, Status.RETRYING, calls)
        if message.receive_count >= self.max_receive_count - 1 and not message.is_fifo:
            # One more receive would hand the message to the redrive policy: a fresh copy
            # (receive count 0) takes its place.
            try:
                self.source_queue.requeue(message, delay, optout.event_id)
            except TransientError as error:
                logger.warning("Could not re-enqueue a fresh copy", extra={"error_code": error.code})
            else:
                logger.info(
                    "Postponed; re-enqueued as a fresh message", extra={"reason": reason, "delay": delay}
                )
                return RecordOutcome.done(Status.DEFERRED)
        self.source_queue.defer(message, delay)
        logger.info("Postponed", extra={"reason": reason, "delay": delay})
        return RecordOutcome.deferred(reason)

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

    def _return_to_queue(
        self,
        message: InboundMessage,
        optout: OptOut,
        error: TransientError,
        *,
        calls: int,
        defer_for: float | None = None,
    ) -> RecordOutcome:
        """A transient failure: back to the queue; on the last receive, to the DLQ with its reason."""
        final = message.receive_count >= self.max_receive_count
        status = Status.FAILED if final else Status.RETRYING
        self._try_write(message, optout, status, calls, http_status=error.http_status, error=error)
        self.metrics.count(optout.provider, METRIC_FOR_STATUS[status])
        log = {
            "error_code": error.code,
            "http_status": error.http_status,
            "receive_count": message.receive_count,
        }
        if final:
            logger.warning("Transient failure on the last receive; dead-lettering the record", extra=log)
            return self._dead_letter(message, optout, error, Status.FAILED)
        if defer_for is not None:
            self.source_queue.defer(message, defer_for)
        logger.warning(
            "Transient failure; returning the record to the queue",
            extra={**log, "deferred_seconds": defer_for},
        )
        return RecordOutcome.give_back(error.code, Status.RETRYING)

    def _reject(
        self,
        message: InboundMessage,
        event: OptOut | PartialOptOut,
        error: PermanentError,
        calls: int = 0,
    ) -> RecordOutcome:
        if event.phone is not None and event.provider is not None:
            logger.thread_safe_append_keys(
                event_id=mask_numbers(event.event_id), provider=event.provider, phone=event.phone.masked
            )
            self._try_write(
                message, event, Status.REJECTED, calls, http_status=error.http_status, error=error
            )
        self.metrics.count(event.provider or UNKNOWN_PROVIDER, "Rejected")
        return self._dead_letter(message, event, error, Status.REJECTED)

    def _dead_letter(
        self, message: InboundMessage, event: OptOut | PartialOptOut, error: RelayError, status: Status | None
    ) -> RecordOutcome:
        extra = {"event_id": mask_numbers(event.event_id)}
        if event.provider:
            extra["provider"] = event.provider
        try:
            self.dead_letters.send(message, error.code, error.message, extra)
        except TransientError as failure:
            return self._keep(message, event.event_id, error, failure)
        logger.warning(
            "Sent to the dead-letter queue",
            extra={
                "error_code": error.code,
                "error_message": error.message,
                "http_status": error.http_status,
            },
        )
        self.metrics.count(event.provider or UNKNOWN_PROVIDER, "DeadLettered")
        return RecordOutcome.done(status)

    def _keep(
        self, message: InboundMessage, event_id: str, error: RelayError, failure: TransientError
    ) -> RecordOutcome:
        """The DLQ refused the record. Before the last receive SQS brings it back; on the last
        one a fresh copy takes its place, so the redrive policy never moves it without a reason."""
        log = {"error_code": error.code, "dead_letter_error_code": failure.code}
        if message.receive_count >= self.max_receive_count and not message.is_fifo:
            try:
                self.source_queue.requeue(message, CARRY_DELAY_SECONDS, event_id)
            except TransientError:
                logger.error("Could not dead-letter the record nor re-enqueue it", extra=log)
            else:
                logger.warning("Could not dead-letter the record; re-enqueued a fresh copy", extra=log)
                return RecordOutcome.done(None)
        logger.warning("Could not dead-letter the record; it goes back to the queue", extra=log)
        return RecordOutcome.give_back(failure.code)

    def _unexpected(self, message: InboundMessage, error: Exception, provider: str | None) -> RecordOutcome:
        name = type(error).__name__
        logger.error(
            "Unexpected error while handling the record",
            extra={
                "error_class": name,
                "error_message": mask_numbers(str(error))[:500],
                "traceback": mask_numbers("".join(traceback.format_exception(error))[-4000:]),
            },
        )
        self.metrics.count(provider or UNKNOWN_PROVIDER, "InternalError")
        if message.receive_count < self.max_receive_count:
            return RecordOutcome.give_back("internal_error")
        internal = PermanentError(
            "internal_error",
            f"unexpected {name} while handling the record (see the function's logs for "
            f"correlation id {message.message_id})",
        )
        event = PartialOptOut(message.pinned_event_id or message.message_id)
        return self._dead_letter(message, event, internal, None)

    def _try_write(
        self,
        message: InboundMessage,
        event: OptOut | PartialOptOut,
        status: Status,
        calls: int,
        *,
        http_status: int | None = None,
        error: RelayError | None = None,
    ) -> None:
        """A step on the way (retrying, failed, rejected): if the ledger is down, the record's
        fate does not change; the DLQ and the logs still say what happened."""
        entry = self._entry(message, event, status, calls, http_status=http_status, error=error)
        try:
            self.ledger.record(entry)
        except TransientError as failure:
            logger.warning(
                "Could not record a step in the ledger",
                extra={"status": status.value, "error_code": failure.code, "calls": calls},
            )

    def _entry(
        self,
        message: InboundMessage,
        event: OptOut | PartialOptOut,
        status: Status,
        calls: int,
        *,
        http_status: int | None = None,
        error: RelayError | None = None,
    ) -> LedgerEntry:
        assert event.phone is not None and event.provider is not None
        list_ref = event.list_ref
        return LedgerEntry(
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


def _has_waited(message: InboundMessage) -> bool:
    """Deferred or retried before, or a re-enqueued copy: its turn for budget has come."""
    return message.receive_count > 1 or message.pinned_event_id is not None


def _describe(error: Exception) -> str:
    return error.code if isinstance(error, RelayError) else type(error).__name__
