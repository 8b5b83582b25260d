"""Runs the soak: moto in a process, both simulators with seeded faults, the workload on
one queue, two function processes draining it, a key rotation at each provider."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from optout_relay.aws.ledger_items import merge_items
from optout_relay_dev import moto_server
from optout_relay_dev.local_stack import LocalStack, create_local_stack
from optout_relay_dev.simulators import FaultRates, TatangoSimulator, TracklySimulator
from optout_relay_dev.template import StackShape, stack_shape

from tests.integration.soak_results import DeadLetter, Invocation, SoakRun, Worker
from tests.integration.soak_workload import (
    FULL,
    TATANGO_LIST,
    TRACKLY_LIST,
    Event,
    Mix,
    Workload,
    build_workload,
)

TATANGO_LOGIN = "ops@example.com"
OLD_SECRETS = {
    "trackly": {"api_key": "trk_old_" + "o" * 24},
    "tatango": {"email": TATANGO_LOGIN, "api_key": "tatango-old-" + "o" * 20},
}
NEW_SECRETS = {
    "trackly": {"api_key": "trk_new_" + "n" * 24},
    "tatango": {"email": TATANGO_LOGIN, "api_key": "tatango-new-" + "n" * 20},
}
# About 30% of calls: 429 (Retry-After 1 s, above the retry cap: the record is deferred),
# 500/502/503, a dropped connection, or an answer 0.05 s late (the timeout is 0.5 s).
FAULTS = FaultRates(rate_limited=0.06, server_error=0.10, drop=0.07, slow=0.07, slow_seconds=0.05)
SETTINGS = {
    "PROVIDER_TIMEOUT_SECONDS": "0.5",
    "RETRY_MAX_DELAY_SECONDS": "0.05",
    "TATANGO_MAX_RPS": "unlimited",  # the rate budget has tests of its own
    "TRACKLY_MAX_RPS": "unlimited",
}
# The receive count at which faults would dead-letter a record: rarely reached at 30%.
MAX_RECEIVE_COUNT = 6
# The queue's visibility timeout, compressed: a record given back is received again after it.
VISIBILITY_SECONDS = 2
WORKERS = 2
WORKER = Path(__file__).with_name("soak_worker.py")


def run_soak(seed: int, folder: Path, mix: Mix = FULL) -> SoakRun:
    work = build_workload(seed, mix)
    options: dict[str, Any] = {"fault_rates": FAULTS, "faults_per_request": True}
    with (
        moto_server.in_a_process() as endpoint,
        TracklySimulator([OLD_SECRETS["trackly"]["api_key"]], seed=seed, **options) as trackly,
        TatangoSimulator(
            {TATANGO_LOGIN: OLD_SECRETS["tatango"]["api_key"]}, seed=seed + 1, **options
        ) as tatango,
    ):
        session = boto3.Session(region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        stack = create_local_stack(
            session,
            prefix="soak",
            secrets=OLD_SECRETS,
            overrides={
                "TRACKLY_BASE_URL": trackly.base_url,
                "TATANGO_BASE_URL": tatango.base_url,
                **SETTINGS,
            },
            shape=_with_max_receive_count(stack_shape(), MAX_RECEIVE_COUNT),
            endpoint_url=endpoint,
        )
        run = SoakRun(work, trackly, tatango)
        _subscribe(work, trackly, tatango)
        secretsmanager = session.client("secretsmanager", endpoint_url=endpoint)
        for provider, simulator in (("trackly", trackly), ("tatango", tatango)):
            # Early (a call per message, and retries): most of the work comes after it.
            nth = max(3, work.messages_for(provider) // 3)
            simulator.on_arrival(nth, _rotation(provider, stack, secretsmanager, simulator, run.rotated))
        sqs = session.client("sqs", endpoint_url=endpoint)
        run.published = _publish(sqs, stack.queue_url, work)
        run.workers = _drain_with_workers(stack, endpoint, folder)
        run.queue_left = _messages_on(sqs, stack.queue_url)
        run.dead_letters = _read_dead_letters(sqs, stack.dead_letter_queue_url)
        run.ledger = _read_ledger(session.client("dynamodb", endpoint_url=endpoint), stack.table_name)
        run.secrets = {
            provider: json.loads(secretsmanager.get_secret_value(SecretId=arn)["SecretString"])
            for provider, arn in stack.secret_arns.items()
        }
    return run


def _with_max_receive_count(shape: StackShape, count: int) -> StackShape:
    """The template with another default for MaxReceiveCount: the queue and the function agree."""
    template = copy.deepcopy(shape.template)
    template["Parameters"]["MaxReceiveCount"]["Default"] = count
    return StackShape(template)


def _subscribe(work: Workload, trackly: TracklySimulator, tatango: TatangoSimulator) -> None:
    trackly.add_list(TRACKLY_LIST)
    tatango.add_list(TATANGO_LIST)  # and no other: UNKNOWN_TATANGO_LIST answers "List not found"
    for lists in (work.subscribed, work.bystanders):
        for (provider, list_value), phones in lists.items():
            for phone in phones:
                if provider == "trackly":
                    trackly.subscribe(list_value, phone)
                else:
                    tatango.subscribe(list_value, phone)


def _rotation(
    provider: str, stack: LocalStack, secretsmanager: Any, simulator: Any, rotated: list[str]
) -> Callable[[], None]:
    """The operator's rotation: the new value in Secrets Manager, then the old key revoked."""

    def rotate() -> None:
        secret = NEW_SECRETS[provider]
        secretsmanager.put_secret_value(SecretId=stack.secret_arns[provider], SecretString=json.dumps(secret))
        if provider == "trackly":
            simulator.rotate_key(secret["api_key"])
        else:
            simulator.rotate_key(secret["email"], secret["api_key"])
        rotated.append(provider)

    return rotate


def _publish(sqs: Any, queue_url: str, work: Workload) -> dict[str, Event]:
    published: dict[str, Event] = {}
    for start in range(0, len(work.bodies), 10):
        chunk = work.bodies[start : start + 10]
        entries = [{"Id": str(n), "MessageBody": body} for n, (body, _) in enumerate(chunk)]
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        assert not response.get("Failed"), response["Failed"]
        for sent in response["Successful"]:
            published[sent["MessageId"]] = chunk[int(sent["Id"])][1]
    return published


def _drain_with_workers(stack: LocalStack, endpoint: str, folder: Path) -> list[Worker]:
    env = {
        **os.environ,
        **stack.environment,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        # INFO: the tests read which errors each event met (in-invocation retries log at INFO).
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "MALLOC_ARENA_MAX": "2",
    }
    command = [sys.executable, str(WORKER), stack.queue_url, str(VISIBILITY_SECONDS)]
    outputs = [folder / f"worker-{n}.jsonl" for n in range(WORKERS)]
    processes = []
    for output in outputs:
        with output.open("w") as stdout:
            processes.append(
                subprocess.Popen(command, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
            )
    workers = []
    for process, output in zip(processes, outputs, strict=True):
        try:
            _, stderr = process.communicate(timeout=300)  # a guard against a hang, not a timing
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        lines = [json.loads(line) for line in output.read_text().splitlines() if line.startswith("{")]
        summary = next((line["soak_worker"] for line in lines if "soak_worker" in line), {})
        logs = [line for line in lines if "soak_worker" not in line]
        invocations = [
            Invocation(frozenset(made["ids"]), made["start"], made["end"])
            for made in summary.get("invocations", [])
        ]
        errors = list(summary.get("function_errors", []))
        records = int(summary.get("records", 0))
        workers.append(Worker(process.returncode, stderr, records, errors, invocations, logs))
    return workers


def _messages_on(sqs: Any, queue_url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    names.append("ApproximateNumberOfMessagesDelayed")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(value) for value in attributes.values())


def _read_dead_letters(sqs: Any, queue_url: str) -> list[DeadLetter]:
    letters: list[DeadLetter] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=300
        ).get("Messages", [])
        if not messages:
            return letters
        for message in messages:
            attributes = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
            letters.append(
                DeadLetter(
                    error_code=attributes.get("error_code"),
                    source_message_id=attributes.get("source_message_id"),
                    event_id=attributes.get("event_id"),
                    body=message["Body"],
                    attributes=attributes,
                )
            )


def _read_ledger(dynamodb: Any, table_name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """One row per target (its items merged as operators see them); a test may Scan."""
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True):
        items += [
            {name: next(iter(value.values())) for name, value in item.items()} for item in page["Items"]
        ]
    return {(str(row["phone_number"]), str(row["target"])): row for row in merge_items(items)}
