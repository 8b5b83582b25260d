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
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from optout_relay.domain import deadline
from optout_relay.domain.batch import Plan, Planner, PreparedBatch
from optout_relay.domain.confirmation import Confirmation, carried
from optout_relay.domain.effects import Effects
from optout_relay.domain.events import InvalidOptOut, OptOutRequest, Origin, parse_optout
from optout_relay.domain.model import (
    CallResult,
    InboundMessage,
    OptOut,
    PartialOptOut,
    RecordOutcome,
    Status,
    Timeline,
    target_id,
)
from optout_relay.domain.ports import DeadLetters, Ledger, SourceQueue
from optout_relay.domain.provider_rules import FieldProblem, ProviderRules
from optout_relay.domain.settle import FINAL, Settler, entry_for
from optout_relay.domain.target_call import ProviderCaller, Step, TargetResult
from optout_relay.domain.targets import Account
from optout_relay.domain.timestamps import iso_utc, parse_utc
from optout_relay.errors import InvalidEvent, PermanentError, RelayError, TransientError
from optout_relay.masking import mask_numbers
from optout_relay.observability import OutcomeMetrics, logger

UNKNOWN_PROVIDER = "unknown"


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

    def __post_init__(self) -> None:
        self.settler = Settler(self.effects, self.metrics)

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

    def _echo_of(self, request: OptOutRequest, origin: Origin) -> RecordOutcome | None:
        """A provider's webhook that reports an unsubscribe this relay made (its own call fired
        it): recorded as an echo, not fanned out again. A STOP of the person's own, at any
        other time, is a new opt-out."""
        moment = request.occurred_at or iso_utc(datetime.now(UTC))
        own = self.ledger.unsubscribed_near(
            request.phone.e164, origin.provider, origin.list_ref.value, moment, ECHO_WINDOW_SECONDS
        )
        if own is None or own == request.event_id:
            return None
        self.ledger.record_echo(
            request.phone.e164, request.event_id, own, f"{origin.provider}#{origin.list_ref}"
        )
        logger.info(
            "Webhook echoes the relay's own unsubscribe; not fanned out", extra={"echo_of": mask_numbers(own)}
        )
        self.metrics.count(origin.provider, "EchoSuppressed")
        return RecordOutcome.done(None)

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
        if request.origin is not None:
            echo = self._echo_of(request, request.origin)
            if echo is not None:
                return echo
        results = self._run_targets(message, plan, statuses, remaining_seconds, batch)
        timeline = timeline_of(request.occurred_at, message.first_seen_at)
        return self.settler.decide(message, plan, statuses, results, remaining_seconds, timeline=timeline)

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
            status = statuses.get(optout.ledger_key)
            answer = answers.get(optout.target) or self.effects.unwritten.get(optout.target)
            # A redriven dead letter tries its target again, unless it succeeded meanwhile.
            retried = message.redrive_target == target_id(optout.short_target)
            if answer is None and _is_origin(plan.request, optout):
                answer = _reported_by_webhook(plan.request)
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
            first, shared = batch.claim(optout.ledger_key)
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

    # ------------------------------------------------------------------ whole-message outcomes

    def _reject_message(
        self, message: InboundMessage, event: PartialOptOut, error: PermanentError
    ) -> RecordOutcome:
        failure = self.effects.dead_letter(message, event, error)
        if failure is not None:
            return self.effects.keep(message, event.event_id, failure)
        if event.phone is not None and event.provider is not None:
            logger.thread_safe_append_keys(provider=event.provider, phone=event.phone.masked)
            self.effects.try_write(entry_for(message, event, Status.REJECTED, 0, error=error))
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


def _describe(error: Exception) -> str:
    return error.code if isinstance(error, RelayError) else type(error).__name__


def timeline_of(occurred_at: str | None, first_seen_at: str | None) -> Timeline | None:
    """Received when it occurred (if the producer says, and no later than the relay first
    had it), else when the relay first had it; due ten US business days after."""
    now = datetime.now(UTC)
    try:
        first_seen = min(parse_utc(first_seen_at), now) if first_seen_at else now
    except ValueError:  # an attribute that is not a date: the relay has it now
        first_seen = now
    try:
        received = deadline.received_at(occurred_at, first_seen)
        return Timeline(iso_utc(received), iso_utc(deadline.deadline_at(received)))
    except (ValueError, OverflowError, KeyError) as error:  # a date the calendar cannot reach
        logger.warning("No deadline for this opt-out", extra={"error": type(error).__name__})
        return None


# A provider fires its webhook within seconds of the unsubscribe (Tatango retries for hours
# after a failure, with the same unsubscribe time in the payload).
ECHO_WINDOW_SECONDS = 15 * 60


def _is_origin(request: OptOutRequest, optout: OptOut) -> bool:
    origin = request.origin
    return origin is not None and (origin.provider, origin.list_ref) == (optout.provider, optout.list_ref)


def _reported_by_webhook(request: OptOutRequest) -> Confirmation:
    """The list the STOP landed on: the provider itself unsubscribed the number there."""
    assert request.origin is not None
    evidence = {"webhook_id": request.origin.webhook_id}
    if request.occurred_at:
        evidence["opted_out_at"] = iso_utc(parse_utc(request.occurred_at))
    # No call was made: no HTTP status of an answer (0 is written as none).
    return Confirmation("", CallResult(Status.UNSUBSCRIBED, 0, evidence=evidence), 0)
