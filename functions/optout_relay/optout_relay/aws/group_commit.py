"""Group commit: writes from many record workers, sent to the store in shared batches.

A worker that submits a write while no flush is running flushes at once, with
whatever is pending (at most ``max_group``). Writes submitted meanwhile wait, and
the oldest of them flushes the next group when the flush in progress ends. So a
write is never held back to fill a batch, yet when workers finish together (they
all wait on the same provider latency) their writes share one round trip.

``submit`` returns only when its own write is stored, and raises what the flush of
its group raised: a record is never reported processed before its write is durable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")

# Per item of a group: ``None`` once stored, else the error for that item.
Flush = Callable[[Sequence[Item]], Sequence[Exception | None]]


@dataclass(eq=False)
class _Slot(Generic[Item]):
    item: Item
    wake: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    error: Exception | None = None


class GroupCommit(Generic[Item]):
    def __init__(self, flush: Flush[Item], max_group: int) -> None:
        self._flush = flush
        self.max_group = max_group
        self._lock = threading.Lock()
        self._pending: list[_Slot[Item]] = []
        self._flushing = False

    def submit(self, item: Item) -> None:
        error = self.submit_all([item])[0]
        if error is not None:
            raise error

    def submit_all(self, items: Sequence[Item]) -> list[Exception | None]:
        """Several writes of one worker, in as few groups as fit: per item, ``None`` once
        stored, else the error of its group's flush."""
        slots = [_Slot(item) for item in items]
        if not slots:
            return []
        with self._lock:
            self._pending.extend(slots)
            lead = not self._flushing
            self._flushing = True
        if lead:
            self._flush_next_group()
        for slot in slots:
            while not slot.done:
                slot.wake.wait()  # woken with its write done, or to flush the next group
                if not slot.done:
                    self._flush_next_group()
        return [slot.error for slot in slots]

    def _flush_next_group(self) -> None:
        with self._lock:
            group = self._pending[: self.max_group]
            del self._pending[: self.max_group]
        errors: list[Exception | None]
        try:
            errors = list(self._flush([slot.item for slot in group]))
            if len(errors) != len(group):
                raise RuntimeError(f"a flush of {len(group)} writes answered for {len(errors)}")
        except Exception as failure:  # handed to every worker of the group
            errors = [failure] * len(group)
        with self._lock:
            for slot, error in zip(group, errors, strict=True):
                slot.error, slot.done = error, True
                slot.wake.set()
            if self._pending:
                self._pending[0].wake.set()  # the oldest waiting write flushes next
            else:
                self._flushing = False
