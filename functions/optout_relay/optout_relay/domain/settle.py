"""A record's targets' results, recorded and turned into the record's one fate.

Each target's result is written where it belongs (the ledger, its own dead letter), then
the record's fate follows from all of them together: carried answers, a dead letter that
failed, a target to try again, a target postponed, or done."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from optout_relay.domain.batch import Plan
from optout_relay.domain.confirmation import Confirmation
from optout_relay.domain.effects import Effects
from optout_relay.domain.evidence import EMPTY_EVIDENCE, Evidence
from optout_relay.domain.model import (
    FanOutSummary,
    InboundMessage,
    LedgerEntry,
    OptOut,
    PartialOptOut,
    RecordOutcome,
    Status,
    Timeline,
    ledger_target,
)
from optout_relay.domain.target_call import Step, TargetResult
from optout_relay.domain.timestamps import iso_utc
from optout_relay.errors import RelayError, TransientError
from optout_relay.masking import mask_numbers
from optout_relay.observability import OutcomeMetrics, logger

METRIC_FOR_STATUS = {
    Status.UNSUBSCRIBED: "Unsubscribed",
    Status.NOT_SUBSCRIBED: "NotSubscribed",
    Status.REJECTED: "Rejected",
    Status.RETRYING: "Retried",
    Status.FAILED: "Failed",
}
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
    # What a fresh copy of the message carries as receives already counted (``InboundMessage``).
    prior_receives: int = 0
    dead_letter_failure: TransientError | None = None
    timeline: Timeline | None = None
    single: bool = False  # a one-target opt-out: its final outcome completes it

    def entry(
        self, message: InboundMessage, event: OptOut, status: Status, calls: int, *args: Any, **kw: Any
    ) -> LedgerEntry:
        entry = entry_for(message, event, status, calls, *args, **kw)
        return replace(entry, timeline=self.timeline, completes_opt_out=self.single and status in FINAL)

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
class Settler:
    effects: Effects
    metrics: OutcomeMetrics

    @property
    def max_receive_count(self) -> int:
        return self.effects.max_receive_count

    def decide(
        self,
        message: InboundMessage,
        plan: Plan,
        statuses: Mapping[tuple[str, str], Status | None],
        results: list[TargetResult],
        remaining_seconds: Callable[[], float],
        *,
        timeline: Timeline | None = None,
    ) -> RecordOutcome:
        """Records what each target's result means, then decides the record's fate, once."""
        tally = Tally(timeline=timeline, single=not plan.request.fans_out)
        # Once a target has failed, a fresh copy keeps counting this message's receives: a
        # target that fails whenever the budget lets it try must still reach its dead letter.
        failed_before = any(statuses.get(r.optout.ledger_key) is Status.RETRYING for r in results)
        tally.prior_receives = message.receives if failed_before else message.prior_receives
        final_receive = message.receives >= self.max_receive_count
        answered = [r for r in results if r.step is Step.ANSWERED and not r.duplicate]
        self._record_answers(message, answered, tally, remaining_seconds)
        for result in results:
            if result.duplicate:
                tally.shared(result, self.metrics)
            elif result.step is Step.ANSWERED:
                continue
            elif result.step is Step.NOT_APPLICABLE:
                entry = tally.entry(message, result.optout, Status.NOT_SUBSCRIBED, 0, error=result.error)
                if self.effects.try_write(entry):
                    tally.settled.append(Status.NOT_SUBSCRIBED)
            elif result.step is Step.REJECTED or (result.step is Step.RETRY and final_receive):
                self._record_final_failure(message, result, tally)
            elif result.step is Step.RETRY:
                entry = tally.entry(message, result.optout, Status.RETRYING, result.calls, error=result.error)
                self.effects.try_write(entry)
                self._count(result.optout, Status.RETRYING)
                tally.back.append(result)
            else:
                if result.calls:
                    self.effects.try_write(tally.entry(message, result.optout, Status.RETRYING, result.calls))
                tally.postponed.append(result)
        if plan.request.fans_out and (tally.settled or not all(r.known in FINAL for r in results)):
            self._summarise(plan, results, tally)
        return self._fate(message, plan.request.event_id, tally)

    def _record_answers(
        self,
        message: InboundMessage,
        results: list[TargetResult],
        tally: Tally,
        remaining_seconds: Callable[[], float],
    ) -> None:
        """The providers' answers, written together: one wait for the ledger, not one each."""
        entries = []
        for result in results:
            assert result.answer is not None
            entries.append(
                tally.entry(
                    message,
                    result.optout,
                    result.answer.status,
                    result.calls,
                    result.answer.http_status or None,
                    evidence=result.answer.evidence,
                )
            )
        failures = self.effects.write_answers(entries, remaining_seconds) if entries else []
        for result, failure in zip(results, failures, strict=True):
            optout, answer = result.optout, result.answer
            assert answer is not None
            if failure is not None:
                tally.write_error = failure
                tally.unwritten.append(Confirmation(optout.target, answer, result.calls))
                self.metrics.count(optout.provider, "ConfirmationCarried")
                continue
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
        self.effects.try_write(tally.entry(message, optout, status, result.calls, error=error))
        self._count(optout, status)
        self.metrics.count(optout.provider, "DeadLettered")
        tally.settled.append(status)

    def _fate(self, message: InboundMessage, event_id: str, tally: Tally) -> RecordOutcome:
        if tally.unwritten and tally.write_error is not None:
            return self.effects.carry(
                message, event_id, tally.unwritten, tally.write_error, tally.prior_receives
            )
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
            reason = tally.postponed[0].reason or "postponed"
            return self.effects.postpone(message, event_id, wait, reason, tally.prior_receives)
        return RecordOutcome.done(_strongest(tally.settled + tally.known))

    def _summarise(self, plan: Plan, results: list[TargetResult], tally: Tally) -> None:
        settled_now = tally.settled
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
                timeline=tally.timeline,
            )
        )

    def _count(self, optout: OptOut, status: Status) -> None:
        self.metrics.count(optout.provider, METRIC_FOR_STATUS[status])


def entry_for(
    message: InboundMessage,
    event: OptOut | PartialOptOut,
    status: Status,
    calls: int,
    http_status: int | None = None,
    *,
    error: RelayError | None = None,
    evidence: Evidence = EMPTY_EVIDENCE,
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
        evidence=evidence,
    )


def _strongest(statuses: list[Status]) -> Status | None:
    order = [Status.UNSUBSCRIBED, Status.NOT_SUBSCRIBED, Status.REJECTED, Status.FAILED]
    return next((status for status in order if status in statuses), None)
