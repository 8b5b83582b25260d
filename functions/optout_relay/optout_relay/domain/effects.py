"""The relay's side effects for a record: ledger writes, dead letters, deferrals and
re-enqueued copies. Each says whether it took effect; the relay decides what follows."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from optout_relay.domain.confirmation import Confirmation, carry
from optout_relay.domain.model import (
    FanOutSummary,
    InboundMessage,
    LedgerEntry,
    OptOut,
    PartialOptOut,
    RecordOutcome,
    Status,
    target_id,
)
from optout_relay.domain.ports import DeadLetters, Ledger, SourceQueue
from optout_relay.errors import RelayError, TransientError
from optout_relay.masking import mask_numbers
from optout_relay.observability import logger

# A provider's answer is written with a few quick retries before it travels with a copy.
ANSWER_WRITE_TRIES = 3
ANSWER_WRITE_BACKOFF_SECONDS = 0.2
CARRY_DELAY_SECONDS = 2
MAX_UNWRITTEN = 10_000


@dataclass
class Effects:
    ledger: Ledger
    dead_letters: DeadLetters
    source_queue: SourceQueue
    max_receive_count: int
    sleep: Callable[[float], None] = time.sleep
    # Answers that could be neither written nor carried by a copy (DynamoDB and SQS both
    # failing): kept for a redelivery this execution environment handles.
    unwritten: dict[str, Confirmation] = field(default_factory=dict, repr=False)

    def write_answers(
        self, entries: Sequence[LedgerEntry], remaining_seconds: Callable[[], float]
    ) -> list[TransientError | None]:
        """Providers' answers, written together with bounded retries of the ones refused;
        for each, ``None`` once written, else the last error."""
        errors: list[TransientError | None] = [None] * len(entries)
        pending = list(range(len(entries)))
        for attempt in range(ANSWER_WRITE_TRIES):
            refused = self.ledger.record_all([entries[index] for index in pending])
            for index, error in zip(pending, refused, strict=True):
                errors[index] = error
            pending = [index for index in pending if errors[index] is not None]
            delay = ANSWER_WRITE_BACKOFF_SECONDS * 2**attempt
            if not pending or attempt + 1 == ANSWER_WRITE_TRIES or delay > remaining_seconds() - 1:
                break
            self.sleep(delay)
        for entry, error in zip(entries, errors, strict=True):
            if error is None:
                self.unwritten.pop(entry.target, None)
        return errors

    def try_write(self, entry: LedgerEntry) -> bool:
        """A step on the way (retrying, failed, rejected): if the ledger is down, the record's
        fate does not change; the DLQ and the logs still say what happened."""
        try:
            self.ledger.record(entry)
        except TransientError as failure:
            logger.warning(
                "Could not record a step in the ledger",
                extra={
                    "status": entry.status.value,
                    "error_code": failure.code,
                    "calls": entry.attempts_added,
                },
            )
            return False
        return True

    def dead_letter(
        self, message: InboundMessage, event: OptOut | PartialOptOut, error: RelayError
    ) -> TransientError | None:
        extra = {"event_id": mask_numbers(event.event_id)}
        if event.provider:
            extra["provider"] = event.provider
        if isinstance(event, OptOut):
            # The target's name holds a list number: shown masked, matched on a redrive by its id.
            extra.update(
                target=mask_numbers(event.short_target),
                target_id=target_id(event.short_target),
                account=event.account_id,
            )
        try:
            self.dead_letters.send(message, error.code, error.message, extra)
        except TransientError as failure:
            logger.warning(
                "Could not dead-letter",
                extra={"error_code": error.code, "dead_letter_error_code": failure.code},
            )
            return failure
        logger.warning(
            "Sent to the dead-letter queue",
            extra={
                "error_code": error.code,
                "error_message": error.message,
                "http_status": error.http_status,
            },
        )
        return None

    def keep(self, message: InboundMessage, event_id: str, failure: TransientError) -> RecordOutcome:
        """A dead letter could not be sent. Before the last receive SQS brings the record back;
        on the last one a fresh copy takes its place, so the redrive policy never moves it
        without a reason."""
        if message.receive_count >= self.max_receive_count and not message.is_fifo:
            try:
                self.source_queue.requeue(
                    message, CARRY_DELAY_SECONDS, event_id, prior_receives=message.receives
                )
            except TransientError:
                logger.error("Could not dead-letter the record nor re-enqueue it")
            else:
                logger.warning("Could not dead-letter the record; re-enqueued a fresh copy")
                return RecordOutcome.done(None)
        return RecordOutcome.give_back(failure.code)

    def carry(
        self,
        message: InboundMessage,
        event_id: str,
        answers: list[Confirmation],
        error: TransientError,
        prior_receives: int,
    ) -> RecordOutcome:
        """Answers the ledger refused travel with a fresh copy of the message."""
        try:
            self.source_queue.requeue(
                message,
                CARRY_DELAY_SECONDS,
                event_id,
                confirmation=carry(answers),
                prior_receives=prior_receives,
            )
        except TransientError as failure:
            for answer in answers:
                if len(self.unwritten) < MAX_UNWRITTEN:
                    self.unwritten[answer.target] = answer
            logger.error(
                "Provider answers could neither be written nor carried: kept in memory for the "
                "record's redelivery",
                extra={"answers": len(answers), "error_code": error.code, "requeue_error_code": failure.code},
            )
            return RecordOutcome.give_back(error.code)
        logger.warning(
            "Ledger write failed after the provider answered; the answers travel with a fresh copy",
            extra={"answers": len(answers), "error_code": error.code},
        )
        return RecordOutcome.done(answers[0].result.status)

    def postpone(
        self, message: InboundMessage, event_id: str, wait: float, reason: str, prior_receives: int
    ) -> RecordOutcome:
        """Not now (no rate budget, or no time left to call): come back later. Never slept on,
        never counted as an error, and never a reason for the redrive policy to take it.
        A fresh copy carries ``prior_receives``, the receives that still count."""
        delay = max(1, math.ceil(wait))
        if message.receive_count >= self.max_receive_count - 1 and not message.is_fifo:
            # One more receive would hand the message to the redrive policy: a fresh copy
            # (receive count 0) takes its place.
            try:
                self.source_queue.requeue(message, delay, event_id, prior_receives=prior_receives)
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

    def summarise(self, summary: FanOutSummary) -> None:
        try:
            self.ledger.record_summary(summary)
        except TransientError as error:
            logger.warning("Could not write the fan-out summary", extra={"error_code": error.code})
