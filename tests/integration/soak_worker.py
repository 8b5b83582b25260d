"""One function process of the soak: ``soak_worker.py QUEUE_URL VISIBILITY_SECONDS``.

A fresh interpreter imports the handler (a cold start) and plays Lambda's event source
mapping on the queue until it is empty. A handler that raises fails its whole batch, as
on Lambda: every record comes back after the visibility timeout. The last line printed
is ``{"soak_worker": {"batches", "records", "function_errors", "invocations"}}``, each
invocation with its message ids and wall-clock start and end; the handler's logs come
before it.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import boto3
from optout_relay import handler
from optout_relay_dev.event_source import EventSourceMapping

function_errors: list[str] = []
invocations: list[dict[str, Any]] = []


def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ids = [record["messageId"] for record in event["Records"]]
    started = time.time()
    try:
        return dict(handler.lambda_handler(event, context))
    except Exception as error:
        function_errors.append(type(error).__name__)
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in ids]}
    finally:
        invocations.append({"ids": ids, "start": started, "end": time.time()})


def main(queue_url: str, visibility_seconds: int) -> None:
    mapping = EventSourceMapping(
        boto3.client("sqs"), queue_url, invoke, redelivery_delay=None, visibility_timeout=visibility_seconds
    )
    received: list[int] = []
    batches = mapping.drain(on_batch=lambda result: received.append(result.received))
    summary = {
        "batches": batches,
        "records": sum(received),
        "function_errors": function_errors,
        "invocations": invocations,
    }
    print(json.dumps({"soak_worker": summary}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
