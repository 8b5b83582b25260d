"""One Lambda execution environment for the benchmark, in a fresh interpreter.

``worker.py batch N TAG``: import the handler, handle one batch of N Trackly records.
``worker.py cold N TAG``: the same, without counting AWS requests: counting needs the SQS
client, which the function creates only when it needs it (about 60 ms of a cold start).
``worker.py absent N TAG``: the same, for numbers on no list (every answer "not subscribed").
``worker.py fanout N TAG``: one batch of N everywhere-events (the targets document's lists).
``worker.py drain QUEUE_URL``: play the event source mapping until the queue is empty.

Each batch prints its time, its failures, the process's peak RSS, the AWS requests the
function made and the CPU time the function process spent per provider call.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from optout_relay import handler


def record(tag: str, n: int, body: dict[str, object]) -> dict[str, object]:
    return {
        "messageId": f"{tag}-{n}",
        "receiptHandle": f"rh-{n}",
        "body": json.dumps({**body, "event_id": f"{tag}-{n}"}),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench-queue",
        "awsRegion": "us-east-1",
    }


def trackly_records(count: int, tag: str, first_exchange: int) -> list[dict[str, object]]:
    return [
        record(
            tag,
            n,
            {
                "provider": "trackly",
                "phone_number": f"+1206{first_exchange + n // 10_000:03d}{n % 10_000:04d}",
                "list_number": "+18005551234",
            },
        )
        for n in range(count)
    ]


def fanout_records(count: int, tag: str) -> list[dict[str, object]]:
    return [record(tag, n, {"scope": "everywhere", "phone_number": f"+1206777{n:04d}"}) for n in range(count)]


def count_aws_requests() -> list[str]:
    from optout_relay.aws.clients import client

    sent: list[str] = []
    for service in ("dynamodb", "secretsmanager", "sqs"):
        client(service).meta.events.register("before-send", lambda **kwargs: sent.append("request"))
    return sent


def run_batch(records: list[dict[str, object]], provider_calls: int, *, count_requests: bool = True) -> None:
    from optout_relay_dev.lambda_context import LocalLambdaContext

    sent = count_aws_requests() if count_requests else []
    cpu_before = time.process_time()
    started = time.perf_counter()
    response = handler.lambda_handler({"Records": records}, LocalLambdaContext(timeout_seconds=900))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "failures": len(response["batchItemFailures"]),
                "peak_rss_mb": peak_kb / 1024,
                "aws_requests": len(sent),
                "cpu_ms_per_call": 1000 * cpu / max(1, provider_calls),
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
    mode = sys.argv[1]
    if mode == "drain":
        drain(sys.argv[2])
    else:
        count, tag = int(sys.argv[2]), sys.argv[3]
        if mode == "fanout":
            lists = int(sys.argv[4])
            run_batch(fanout_records(count, tag), count * lists)
        else:
            records = trackly_records(count, tag, 666 if mode == "absent" else 555)
            run_batch(records, count, count_requests=mode != "cold")
