"""Drains a queue through the real handler with the event source mapping poller, showing
a progress bar: what ``demo`` and ``local drain`` do, since nothing else consumes a
local queue."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from optout_relay_dev.cli import console as terminal
from optout_relay_dev.event_source import BatchResult, EventSourceMapping, Handler

# The queue's visibility timeout (660 s in template.yaml), compressed: a record reported
# as a batch item failure is received again after this long, unless the handler itself
# deferred it longer (a Retry-After above RETRY_MAX_DELAY_SECONDS).
LOCAL_VISIBILITY_SECONDS = 1
BATCH_SIZE = 10


@dataclass
class DrainStats:
    batches: int = 0
    records: int = 0  # records handed to the handler, redeliveries included
    batch_item_failures: int = 0  # records given back to the queue for a redelivery
    seconds: float = 0.0


def drain(
    sqs: Any,
    queue_url: str,
    handler: Handler,
    *,
    total: int | None = None,
    description: str = "Draining",
    console: Console | None = None,
    function_timeout: float = 60.0,
    max_seconds: float | None = None,
) -> DrainStats:
    """Poll until the queue holds nothing (visible, in flight or delayed), or for at most
    ``max_seconds`` (then ``QueueNotDrained``)."""
    mapping = EventSourceMapping(
        sqs,
        queue_url,
        handler,
        batch_size=BATCH_SIZE,
        function_timeout=function_timeout,
        redelivery_delay=None,
        visibility_timeout=LOCAL_VISIBILITY_SECONDS,
    )
    stats = DrainStats()
    size = total if total is not None else mapping.in_flight()
    started = time.monotonic()
    with terminal.progress(console) as bar:
        task = bar.add_task(description, total=size, detail="")

        def on_batch(result: BatchResult) -> None:
            stats.batches += 1
            stats.records += result.received
            stats.batch_item_failures += len(result.failed_ids)
            left = mapping.in_flight()
            bar.update(
                task,
                completed=max(0, size - left),
                detail=f"{stats.batch_item_failures} given back for retry · {left} left",
            )

        mapping.drain(on_batch=on_batch, max_seconds=max_seconds)
        bar.update(task, completed=size, detail=f"{stats.batch_item_failures} given back for retry · done")
    stats.seconds = time.monotonic() - started
    return stats
