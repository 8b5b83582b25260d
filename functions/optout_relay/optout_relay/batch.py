"""Powertools' SQS BatchProcessor, with the records of a batch handled on a bounded
thread pool: almost all of a record's time is spent waiting on the provider.

Partial-batch semantics are the processor's own: a failed record is reported, the
rest are not. On a FIFO queue the records of one message group run in order on one
worker, and after a failure the rest of that group is reported failed unprocessed,
as Powertools' ``SqsFifoPartialProcessor(skip_group_on_error=True)`` does.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

from optout_relay.domain.model import Fate, RecordOutcome


class GroupSkipped(Exception):
    """An earlier record of this FIFO message group failed; this one was not processed."""


class RecordGivenBack(Exception):
    """The relay gives the record back: a batch item failure, for SQS to deliver again."""


class RecordDeferred(Exception):
    """Postponed (no rate budget or no time to call): a batch item failure, not an error."""


def settle_record(outcome: RecordOutcome) -> str:
    """The relay's decision, in the terms of Powertools' batch processor: a failure is an exception."""
    if outcome.fate is Fate.GIVE_BACK:
        raise RecordGivenBack(outcome.reason or "given back")
    if outcome.fate is Fate.DEFERRED:
        raise RecordDeferred(outcome.reason or "deferred")
    return outcome.status.value if outcome.status else "done"


def every_record_failed(records: list[dict[str, Any]]) -> PartialItemFailureResponse:
    """The answer when the batch itself could not be processed: every record comes back."""
    ids = [record.get("messageId") for record in records if isinstance(record, dict)]
    return {"batchItemFailures": [{"itemIdentifier": str(found)} for found in ids if found]}


class ConcurrentSqsProcessor(BatchProcessor):
    def __init__(self, workers: int) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self.workers = workers
        self._executor: ThreadPoolExecutor | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:  # created once per execution environment
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="record")
        return self._executor

    def process(self) -> list[tuple[Any, ...]]:
        records: list[dict[str, Any]] = list(self.records)
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, record in enumerate(records):
            groups.setdefault(_group_of(record, index), []).append((index, record))
        if self.workers <= 1 or len(groups) <= 1:
            return [result for items in groups.values() for _, result in self._run_group(items)]
        results: list[tuple[Any, ...]] = [()] * len(records)
        for future in [self.executor.submit(self._run_group, items) for items in groups.values()]:
            for index, result in future.result():
                results[index] = result
        return results

    def _run_group(self, items: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, tuple[Any, ...]]]:
        results: list[tuple[int, tuple[Any, ...]]] = []
        group_failed = False
        for index, record in items:
            if group_failed:
                results.append((index, self._skip(record)))
                continue
            result = self._process_record(record)
            results.append((index, result))
            group_failed = _is_fifo(record) and result[0] == "fail"
        return results

    def _skip(self, record: dict[str, Any]) -> tuple[Any, ...]:
        data = self._to_batch_type(record=record, event_type=self.event_type, model=self.model)
        try:
            raise GroupSkipped("an earlier message of this FIFO group failed; kept in order for redelivery")
        except GroupSkipped:
            return self.failure_handler(record=data, exception=sys.exc_info())


def _is_fifo(record: dict[str, Any]) -> bool:
    return str(record.get("eventSourceARN", "")).endswith(".fifo")


def _group_of(record: dict[str, Any], index: int) -> str:
    group = record.get("attributes", {}).get("MessageGroupId")
    if _is_fifo(record) and group:
        return f"group:{group}"
    return f"record:{index}"
