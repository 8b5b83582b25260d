"""A burst of 1,000 webhooks at one execution environment, over loopback HTTP, with
nothing lost: every STOP on the queue, once. moto plays SQS, DynamoDB and Secrets Manager
in this process; the receiver answers one request at a time, as one Lambda instance does.
The requests come as fast as eight clients can send them, well above 1,000 a minute."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import urllib3
from moto import mock_aws
from optout_relay_dev.local_stack import LocalStack, create_local_stack
from optout_relay_dev.simulators.registry import local_secrets
from optout_relay_dev.webhook_server import LocalWebhookReceiver

from .conftest import TOKEN, TRACKLY_SECRET, hex_signature, tatango_body, trackly_body

WEBHOOKS = 1_000
CLIENTS = 8


@pytest.fixture
def served() -> Iterator[tuple[LocalWebhookReceiver, LocalStack, Any]]:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        stack = create_local_stack(session, secrets=local_secrets())
        session.client("secretsmanager").put_secret_value(
            SecretId=stack.webhook_secret_arn,
            SecretString=json.dumps({"tatango_token": TOKEN, "trackly_signing_secret": TRACKLY_SECRET}),
        )
        with LocalWebhookReceiver(stack.receiver_environment, session=session) as receiver:
            yield receiver, stack, session


def request(n: int) -> tuple[str, bytes, dict[str, str]]:
    phone = f"206555{n:04d}"
    if n % 2:
        body = json.dumps(tatango_body(phone_number=phone, opt_id=700_000 + n)).encode()
        return f"/tatango/{TOKEN}", body, {"Content-Type": "application/json"}
    body = json.dumps(trackly_body(phone_number="+1" + phone)).encode()
    return "/trackly", body, {"Content-Type": "application/json", "X-Trackly-Signature": hex_signature(body)}


class Consumer:
    """Takes every message off the queue as it comes, as the relay's pollers do (moto's
    SendMessage walks the whole queue: left to grow, a 1,000-message queue alone would
    make the test slow)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs, self.queue_url = sqs, queue_url
        self.event_ids: list[str] = []
        self.sending_done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="consumer")

    def _take(self) -> int:
        batch = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        if batch:
            self.event_ids.extend(json.loads(message["Body"])["event_id"] for message in batch)
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        return len(batch)

    def _run(self) -> None:
        while self._take() or not self.sending_done.is_set():
            pass
        while self._take():  # what arrived after the last empty receive
            pass


@pytest.mark.slow
def test_a_thousand_webhooks_on_one_instance_lose_nothing(
    served: tuple[LocalWebhookReceiver, LocalStack, Any],
) -> None:
    receiver, stack, session = served
    pool = urllib3.PoolManager(maxsize=CLIENTS, retries=False, timeout=urllib3.Timeout(total=30))
    consumer = Consumer(session.client("sqs"), stack.queue_url)
    consumer.thread.start()

    def send(n: int) -> int:
        path, body, headers = request(n)
        return pool.request("POST", receiver.base_url + path, body=body, headers=headers).status

    try:
        with ThreadPoolExecutor(CLIENTS) as clients:
            statuses = list(clients.map(send, range(WEBHOOKS)))
    finally:
        consumer.sending_done.set()
        consumer.thread.join()

    assert statuses == [200] * WEBHOOKS
    assert len(consumer.event_ids) == WEBHOOKS, "every 200 answer has its message on the queue"
    assert len(set(consumer.event_ids)) == WEBHOOKS
    assert receiver.counts == {("tatango", "WebhookPublished"): 500, ("trackly", "WebhookPublished"): 500}
