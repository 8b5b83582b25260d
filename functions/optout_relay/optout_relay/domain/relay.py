"""The decisions: parse, choose the targets, skip what is final, call the rest (each target
on its own), and decide the record's fate once, from the results of all its targets.

Every record gets exactly one ``RecordOutcome``, returned, never raised: whatever goes
wrong while handling one record (even a bug) is that record's alone, and on its last
receive the function dead-letters it with a reason.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from optout_relay.domain.batch import Plan, Planner, PreparedBatch
from optout_relay.domain.confirmation import Confirmation, carried
from optout_relay.domain.effects import Effects
from optout_relay.domain.events import InvalidOptOut, OptOutRequest, parse_optout
from optout_relay.domain.model import (
    FanOutSummary,
    InboundMessage,
    LedgerEntry,
    OptOut,
    PartialOptOut,
    RecordOutcome,
    Status,
    ledger_target,
    target_id,
)
from optout_relay.domain.ports import DeadLetters, Ledger, SourceQueue
from optout_relay.domain.provider_rules import FieldProblem, ProviderRules
from optout_relay.domain.target_call import ProviderCaller, Step, TargetResult
from optout_relay.domain.targets import Account
from optout_relay.domain.timestamps import iso_utc
from optout_relay.errors import InvalidEvent, PermanentError, RelayError, TransientError
from optout_relay.masking import mask_numbers
from optout_relay.observability import OutcomeMetrics, logger

METRIC_FOR_STATUS = {
    Status.UNSUBSCRIBED: "Unsubscribed",
    Status.NOT_SUBSCRIBED: "NotSubscribed",
    Status.REJECTED: "Rejected",
    Status.RETRYING: "Retried",
    Status.FAILED: "Failed",
}
UNKNOWN_PROVIDER = "unknown"
FINAL = frozenset({Status.UNSUBSCRIBED, Status.NOT_SUBSCRIBED, Status.REJECTED, Status.FAILED})


@dataclass
class Tally:
    """What a record's targets came to in one delivery."""

    settled: list[Status] = field(default_factory=list)  # final outcomes recorded now
    known: list[Status] = field(default_factory=list)  # final before this delivery
    unwritten: list[Confirmation] = field(default_factory=list)
    write_error: TransientError | None = None
    back: list[TargetResult] = field(default_factory=list)
    postponed: list[TargetResult] = field(default_factory=list)
    dead_letter_failure: TransientError | None = None

    def shared(self, result: TargetResult, metrics: OutcomeMetrics) -> None:
        """A target settled before, or called by another delivery in this batch."""
        if result.known is not None:
            metrics.count(result.optout.provider, "DuplicateSkipped")
            self.known.append(result.known)
        elif result.step is Step.RETRY:
            self.back.append(result)
        elif result.step is Step.POSTPONED:
            self.postponed.append(result)


@dataclass
class Relay:
    contracts: Mapping[str, ProviderRules]
    caller: ProviderCaller
    planner: Planner
    effects: Effects
    metrics: OutcomeMetrics
    default_region: str = "US"
    # Runs the targets of a fan-out side by side (RECORD_CONCURRENCY bounds the calls).
    executor: Executor | None = None

    @property
    def ledger(self) -> Ledger:
        return self.effects.ledger

    @property
    def dead_letters(self) -> DeadLetters:
        return self.effects.dead_letters

    @property
    def source_queue(self) -> SourceQueue:
        return self.effects.source_queue

    @property
    def max_receive_count(self) -> int:
        return self.effects.max_receive_count

    def prepare(self, messages: list[InboundMessage]) -> PreparedBatch:
        """Parses a batch once, plans its targets and reads their ledger state in shared round
        trips. Whatever fails here leaves that work to each record's own handling."""
        parsed = {}
        for message in messages:
            try:
                parsed[message.message_id] = (message.body, self._parse(message))
            except Exception:  # the record meets it again, alone, in handle()
                logger.warning(
                    "Could not parse a record ahead of the batch", extra={"message_id": message.message_id}
                )
        requests = {mid: result for mid, (_, result) in parsed.items() if isinstance(result, OptOutRequest)}
        try:
            plans = self.planner.plans(requests) if requests else {}
        except Exception as error:  # each record plans its own instead
            logger.warning("Could not plan the batch's targets", extra={"error": _describe(error)})
            plans = {}
        keys = [key for plan in plans.values() if isinstance(plan, Plan) for key in plan.keys]
        try:
            statuses = self.effects.ledger.statuses(keys) if keys else {}
        except Exception as error:  # each record reads its own targets instead
            logger.warning("Could not read the batch's ledger state", extra={"error": _describe(error)})
            statuses = {}
        return PreparedBatch(parsed, plans, statuses)

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

    def _parse(self, message: InboundMessage) -> OptOutRequest | InvalidEvent:
        try:
            return parse_optout(message, self.contracts, self.default_region)
        except InvalidEvent as error:
            return error

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
            return self._reject_message(message, partial, parsed)
        request = parsed
        logger.thread_safe_append_keys(
            event_id=mask_numbers(request.event_id),
            phone=request.phone.masked,
            scope=request.scope.kind.value,
        )
        plan = batch.plan_for(message)
        if plan is None:
            plan = self.planner.plans({message.message_id: request})[message.message_id]
        try:
            if isinstance(plan, RelayError):
                raise plan
            if message.redrive_target is not None:
                plan = plan.only(message.redrive_target)
            statuses = batch.statuses_of(plan.keys, self.ledger)
        except PermanentError as error:
            return self._reject_message(message, PartialOptOut(request.event_id, phone=request.phone), error)
        except TransientError as error:
            return self._message_back(message, request.event_id, error)
        results = self._run_targets(message, plan, statuses, remaining_seconds, batch)
        return self._decide(message, plan, statuses, results, remaining_seconds)

    # ------------------------------------------------------------------ the targets

    def _run_targets(
        self,
        message: InboundMessage,
        plan: Plan,
        statuses: Mapping[tuple[str, str], Status | None],
        remaining_seconds: Callable[[], float],
        batch: PreparedBatch,
    ) -> list[TargetResult]:
        answers = carried(message.carried_confirmation)
        pending: list[tuple[OptOut, Account]] = []
        results: list[TargetResult] = []
        for optout, account in plan.targets:
            status = statuses.get((optout.phone.e164, optout.target))
            answer = answers.get(optout.target) or self.effects.unwritten.get(optout.target)
            # A redriven dead letter tries its target again, unless it succeeded meanwhile.
            retried = message.redrive_target == target_id(optout.short_target)
            if answer is not None and status is not Status.UNSUBSCRIBED:
                results.append(TargetResult(optout, Step.ANSWERED, answer.calls, answer=answer.result))
            elif status is not None and status in FINAL and (status.is_settled_success or not retried):
                results.append(TargetResult(optout, Step.ANSWERED, duplicate=True, known=status))
            else:
                pending.append((optout, account))
        run = self._runner(message, remaining_seconds, batch, fans_out=plan.request.fans_out)
        if self.executor is not None and len(pending) > 1:
            results += list(self.executor.map(lambda pair: run(*pair), pending))
        else:
            results += [run(optout, account) for optout, account in pending]
        return results

    def _runner(
        self,
        message: InboundMessage,
        remaining_seconds: Callable[[], float],
        batch: PreparedBatch,
        *,
        fans_out: bool,
    ) -> Callable[[OptOut, Account], TargetResult]:
        waited = message.receive_count > 1 or message.pinned_event_id is not None

        def run(optout: OptOut, account: Account) -> TargetResult:
            if fans_out:
                try:
                    self.contracts[optout.provider].check_phone(optout.phone)
                except FieldProblem as problem:  # this provider cannot hold the number
                    return TargetResult(
                        optout, Step.NOT_APPLICABLE, error=PermanentError(problem.code, problem.message)
                    )
            first, shared = batch.claim((optout.phone.e164, optout.target))
            if not first:  # another delivery in this batch is calling this target: its result
                first_result: TargetResult = shared.result()
                return replace(first_result, duplicate=True, calls=0)
            try:
                result = self.caller.run(optout, account, remaining_seconds, waited=waited)
            except BaseException as error:
                shared.set_exception(error)
                raise
            shared.set_result(result)
            return result

        return run

    # ------------------------------------------------------------------ the record's fate

    def _decide(
        self,
        message: InboundMessage,
        plan: Plan,
        statuses: Mapping[tuple[str, str], Status | None],
        results: list[TargetResult],
        remaining_seconds: Callable[[], float],
    ) -> RecordOutcome:
        """Records what each target's result means, then decides the record's fate, once."""
        tally = Tally()
        final_receive = message.receive_count >= self.max_receive_count
        for result in results:
            if result.duplicate:
                tally.shared(result, self.metrics)
            elif result.step is Step.ANSWERED:
                self._record_answer(message, result, tally, remaining_seconds)
            elif result.step is Step.NOT_APPLICABLE:
                entry = self._entry(message, result.optout, Status.NOT_SUBSCRIBED, 0, error=result.error)
                if self.effects.try_write(entry):
                    tally.settled.append(Status.NOT_SUBSCRIBED)
            elif result.step is Step.REJECTED or (result.step is Step.RETRY and final_receive):
                self._record_final_failure(message, result, tally)
            elif result.step is Step.RETRY:
                entry = self._entry(message, result.optout, Status.RETRYING, result.calls, error=result.error)
                self.effects.try_write(entry)
                self._count(result.optout, Status.RETRYING)
                tally.back.append(result)
            else:
                if result.calls:
                    self.effects.try_write(self._entry(message, result.optout, Status.RETRYING, result.calls))
                tally.postponed.append(result)
        if plan.request.fans_out:
            self._summarise(plan, statuses, results, tally.settled)
        return self._fate(message, plan.request.event_id, tally)

    def _record_answer(
        self,
        message: InboundMessage,
        result: TargetResult,
        tally: Tally,
        remaining_seconds: Callable[[], float],
    ) -> None:
        optout, answer = result.optout, result.answer
        assert answer is not None
        entry = self._entry(message, optout, answer.status, result.calls, answer.http_status)
        failure = self.effects.write_answer(message, entry, remaining_seconds)
        if failure is not None:
            tally.write_error = failure
            tally.unwritten.append(Confirmation(optout.target, answer, result.calls))
            self.metrics.count(optout.provider, "ConfirmationCarried")
            return
        logger.info(
            "Opt-out relayed",
            extra={
                "target": mask_numbers(optout.short_target),
                "status": answer.status.value,
                "http_status": answer.http_status,
            },
        )
        self._count(optout, answer.status)
        tally.settled.append(answer.status)

    def _record_final_failure(self, message: InboundMessage, result: TargetResult, tally: Tally) -> None:
        """A permanent failure, or retries exhausted on the last receive: this target's own
        dead letter first (naming the target), then its final ledger item."""
        optout, error = result.optout, result.error
        assert error is not None
        status = Status.REJECTED if result.step is Step.REJECTED else Status.FAILED
        failure = self.effects.dead_letter(message, optout, error)
        if failure is not None:
            tally.dead_letter_failure = failure
            return
        self.effects.try_write(self._entry(message, optout, status, result.calls, error=error))
        self._count(optout, status)
        self.metrics.count(optout.provider, "DeadLettered")
        tally.settled.append(status)

    def _fate(self, message: InboundMessage, event_id: str, tally: Tally) -> RecordOutcome:
        if tally.unwritten and tally.write_error is not None:
            return self.effects.carry(message, event_id, tally.unwritten, tally.write_error)
        if tally.dead_letter_failure is not None:
            return self.effects.keep(message, event_id, tally.dead_letter_failure)
        if tally.back:
            defer_for = max((r.defer_for for r in tally.back if r.defer_for is not None), default=None)
            if defer_for is not None:
                self.effects.source_queue.defer(message, defer_for)
            code = tally.back[0].error.code if tally.back[0].error else "retry"
            logger.warning(
                "Transient failure; the record goes back to the queue for its unsettled targets",
                extra={"targets": len(tally.back), "error_code": code, "deferred_seconds": defer_for},
            )
            return RecordOutcome.give_back(code, Status.RETRYING)
        if tally.postponed:
            wait = max(r.wait for r in tally.postponed)
            return self.effects.postpone(message, event_id, wait, tally.postponed[0].reason or "postponed")
        return RecordOutcome.done(_strongest(tally.settled + tally.known))

    def _summarise(
        self,
        plan: Plan,
        statuses: Mapping[tuple[str, str], Status | None],
        results: list[TargetResult],
        settled_now: list[Status],
    ) -> None:
        settled = sum(1 for r in results if r.known in FINAL) + len(settled_now)
        request = plan.request
        self.effects.summarise(
            FanOutSummary(
                phone_number=request.phone.e164,
                event_id=request.event_id,
                scope=request.scope.kind.value,
                document_version=plan.document_version,
                target_names=tuple(optout.short_target for optout, _ in plan.targets),
                settled=settled,
                last_settled_at=iso_utc(datetime.now(UTC)) if settled_now else None,
                occurred_at=request.occurred_at,
                source=request.source,
            )
        )

    # ------------------------------------------------------------------ whole-message outcomes

    def _reject_message(
        self, message: InboundMessage, event: PartialOptOut, error: PermanentError
    ) -> RecordOutcome:
        failure = self.effects.dead_letter(message, event, error)
        if failure is not None:
            return self.effects.keep(message, event.event_id, failure)
        if event.phone is not None and event.provider is not None:
            logger.thread_safe_append_keys(provider=event.provider, phone=event.phone.masked)
            self.effects.try_write(self._entry(message, event, Status.REJECTED, 0, error=error))
        provider = event.provider or UNKNOWN_PROVIDER
        self.metrics.count(provider, "Rejected")
        self.metrics.count(provider, "DeadLettered")
        return RecordOutcome.done(Status.REJECTED)

    def _message_back(self, message: InboundMessage, event_id: str, error: TransientError) -> RecordOutcome:
        """The whole message could not be worked on (the ledger or the targets store down)."""
        if message.receive_count < self.max_receive_count:
            logger.warning(
                "Could not start the record; it goes back to the queue", extra={"error_code": error.code}
            )
            return RecordOutcome.give_back(error.code)
        failure = self.effects.dead_letter(message, PartialOptOut(event_id), error)
        return (
            RecordOutcome.done(Status.FAILED)
            if failure is None
            else self.effects.keep(message, event_id, failure)
        )

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
        event_id = message.pinned_event_id or message.message_id
        failure = self.effects.dead_letter(message, PartialOptOut(event_id), internal)
        return RecordOutcome.done(None) if failure is None else self.effects.keep(message, event_id, failure)

    def _count(self, optout: OptOut, status: Status) -> None:
        self.metrics.count(optout.provider, METRIC_FOR_STATUS[status])

    def _entry(
        self,
        message: InboundMessage,
        event: OptOut | PartialOptOut,
        status: Status,
        calls: int,
        http_status: int | None = None,
        *,
        error: RelayError | None = None,
    ) -> LedgerEntry:
        assert event.phone is not None and event.provider is not None
        list_ref = event.list_ref
        if isinstance(event, OptOut):
            target = event.target
        else:
            target = ledger_target(event.provider, list_ref.value if list_ref else None, event.event_id)
        return LedgerEntry(
            phone_number=event.phone.e164,
            target=target,
            event_id=event.event_id,
            provider=event.provider,
            status=status,
            message_id=message.message_id,
            receive_count=message.receive_count,
            list_field=list_ref.field if list_ref else None,
            list_value=list_ref.value if list_ref else None,
            attempts_added=calls,
            http_status=http_status if http_status is not None else (error.http_status if error else None),
            error_code=error.code if error else None,
            error_message=error.message if error else None,
            occurred_at=event.occurred_at,
            source=event.source,
            account=event.account_id if isinstance(event, OptOut) else None,
        )


def _strongest(statuses: list[Status]) -> Status | None:
    order = [Status.UNSUBSCRIBED, Status.NOT_SUBSCRIBED, Status.REJECTED, Status.FAILED]
    return next((status for status in order if status in statuses), None)


def _describe(error: Exception) -> str:
    return error.code if isinstance(error, RelayError) else type(error).__name__
