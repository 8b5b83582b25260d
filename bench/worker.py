"""One Lambda execution environment for the benchmark, in a fresh interpreter.

``worker.py batch N TAG``: import the handler, handle one batch of N Trackly records.
``worker.py drain QUEUE_URL``: play the event source mapping until the queue is empty.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from optout_relay import handler


def batch(count: int, tag: str) -> None:
    from optout_relay_dev.lambda_context import LocalLambdaContext

    records = [
        {
            "messageId": f"{tag}-{n}",
            "receiptHandle": f"rh-{n}",
            "body": json.dumps(
                {
                    "provider": "trackly",
                    "phone_number": f"+1206{555 + n // 10_000:03d}{n % 10_000:04d}",
                    "list_number": "+18005551234",
                    "event_id": f"{tag}-{n}",
                }
            ),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench-queue",
            "awsRegion": "us-east-1",
        }
        for n in range(count)
    ]
    started = time.perf_counter()
    response = handler.lambda_handler({"Records": records}, LocalLambdaContext(timeout_seconds=900))
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "failures": len(response["batchItemFailures"]),
                "peak_rss_mb": peak_kb / 1024,
            }
        )
    )


def drain(queue_url: str) -> None:
    import boto3
    from optout_relay_dev.event_source import EventSourceMapping

    mapping = EventSourceMapping(
        boto3.client("sqs"), queue_url, handler.lambda_handler, redelivery_delay=None
    )
    print(json.dumps({"batches": mapping.drain()}))


if __name__ == "__main__":
    if sys.argv[1] == "batch":
        batch(int(sys.argv[2]), sys.argv[3])
    else:
        drain(sys.argv[2])
