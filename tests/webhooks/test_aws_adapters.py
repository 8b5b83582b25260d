"""The receiver's data layer on moto, against the stack's own resources: the ledger as the
relay's code writes it, the generated secret and its rotation, the queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from optout_relay.aws.ledger import DynamoLedger
from optout_relay.domain.model import LedgerEntry, Status
from optout_relay_dev.local_stack import LocalStack, create_local_stack
from optout_relay_dev.simulators.registry import local_secrets
from webhook_receiver.aws.ledger import LedgerReader
from webhook_receiver.aws.queue import QueuePublisher
from webhook_receiver.aws.secrets import WebhookSecretStore
from webhook_receiver.echo import SettledUnsubscribe
from webhook_receiver.errors import LedgerUnavailable, PublishFailed, SecretUnavailable
from webhook_receiver.settings import Settings
from webhook_receiver.wiring import build_receiver

from .conftest import PHONE, TOKEN, tatango_event

PHONE_B = "+12065550199"


@dataclass
class Aws:
    session: Any
    stack: LocalStack

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def relay_writes(
        self,
        status: Status,
        *,
        provider: str,
        list_field: str,
        list_value: str,
        event_id: str,
        account: str | None = None,
        phone: str = PHONE,
    ) -> None:
        target = f"{account or provider}#{list_value}#{event_id}"
        DynamoLedger(self.stack.table_name, self.client("dynamodb")).record(
            LedgerEntry(
                phone_number=phone,
                target=target,
                event_id=event_id,
                provider=provider,
                status=status,
                message_id="m-1",
                receive_count=1,
                list_field=list_field,
                list_value=list_value,
                attempts_added=1,
                http_status=200,
                account=account,
            )
        )


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        yield Aws(session, create_local_stack(session, secrets=local_secrets()))


def test_the_echo_check_reads_outcomes_as_the_relay_writes_them(aws: Aws) -> None:
    aws.relay_writes(
        Status.UNSUBSCRIBED, provider="tatango", list_field="list_id", list_value="4242", event_id="e-1"
    )
    aws.relay_writes(
        Status.UNSUBSCRIBED,
        provider="tatango",
        list_field="list_id",
        list_value="5000",
        event_id="e-1",
        account="tatango-brand-b",
    )
    aws.relay_writes(
        Status.UNSUBSCRIBED,
        provider="trackly",
        list_field="list_number",
        list_value="+18005551234",
        event_id="e-1",
    )
    aws.relay_writes(
        Status.NOT_SUBSCRIBED, provider="tatango", list_field="list_id", list_value="4243", event_id="e-1"
    )
    aws.relay_writes(
        Status.RETRYING, provider="tatango", list_field="list_id", list_value="4244", event_id="e-1"
    )
    aws.relay_writes(
        Status.UNSUBSCRIBED,
        provider="tatango",
        list_field="list_id",
        list_value="4245",
        event_id="e-2",
        phone=PHONE_B,
    )

    found = LedgerReader(aws.stack.table_name, aws.client("dynamodb")).unsubscribed_at(PHONE, "tatango")

    assert sorted((o.provider, o.list_key, o.event_id) for o in found) == [
        ("tatango", "4242", "e-1"),
        ("tatango", "5000", "e-1"),
    ]
    assert all(isinstance(o.settled_at, datetime) and o.settled_at.tzinfo for o in found)


def test_an_item_without_list_attributes_is_read_from_its_target_key(aws: Aws) -> None:
    aws.client("dynamodb").put_item(
        TableName=aws.stack.table_name,
        Item={
            "phone_number": {"S": PHONE},
            "target": {"S": "acct#4242#e-9#unsubscribed"},
            "target_key": {"S": "acct#4242#e-9"},
            "event_id": {"S": "e-9"},
            "provider": {"S": "tatango"},
            "status": {"S": "unsubscribed"},
            "settled_at": {"S": "2026-11-20T14:00:00.000Z"},
        },
    )
    [found] = LedgerReader(aws.stack.table_name, aws.client("dynamodb")).unsubscribed_at(PHONE, "tatango")
    assert found == SettledUnsubscribe(
        "tatango", "4242", "e-9", datetime.fromisoformat("2026-11-20T14:00:00+00:00")
    )


def test_a_ledger_that_cannot_be_read_is_reported(aws: Aws) -> None:
    with pytest.raises(LedgerUnavailable):
        LedgerReader("no-such-table", aws.client("dynamodb")).unsubscribed_at(PHONE, "tatango")


def test_the_generated_secret_holds_both_keys(aws: Aws) -> None:
    store = WebhookSecretStore(aws.stack.webhook_secret_arn, aws.client("secretsmanager"))
    credentials = store.current()
    assert len(credentials.tatango_tokens) == 1 and len(credentials.tatango_tokens[0]) == 48
    assert credentials.tatango_tokens[0].isalnum()
    assert len(credentials.trackly_secrets) == 1


def test_a_rotated_secret_is_read_again_at_most_every_interval(aws: Aws) -> None:
    now = [0.0]
    secretsmanager = aws.client("secretsmanager")
    store = WebhookSecretStore(
        aws.stack.webhook_secret_arn, secretsmanager, refetch_interval=30, clock=lambda: now[0]
    )
    before = store.current()
    secretsmanager.put_secret_value(
        SecretId=aws.stack.webhook_secret_arn,
        SecretString=json.dumps({"tatango_token": TOKEN, "tatango_token_previous": before.tatango_tokens[0]}),
    )

    assert store.current() == before, "cached for five minutes"
    fresh = store.refetched()
    assert fresh is not None and fresh.tatango_tokens == (TOKEN, before.tatango_tokens[0])
    now[0] = 29.0
    assert store.refetched() is None, "a second forced fetch within the interval is refused"
    now[0] = 30.0
    assert store.refetched() is not None


def test_a_secret_that_is_not_json_or_missing_is_unavailable(aws: Aws) -> None:
    secretsmanager = aws.client("secretsmanager")
    secretsmanager.put_secret_value(SecretId=aws.stack.webhook_secret_arn, SecretString="not json")
    with pytest.raises(SecretUnavailable, match="not a JSON object"):
        WebhookSecretStore(aws.stack.webhook_secret_arn, secretsmanager).current()
    with pytest.raises(SecretUnavailable, match="could not be read"):
        WebhookSecretStore("no-such-secret", secretsmanager).current()


def test_a_send_that_fails_raises_publish_failed(aws: Aws) -> None:
    publisher = QueuePublisher(aws.stack.queue_url + "-gone", aws.client("sqs"))
    with pytest.raises(PublishFailed):
        publisher.publish("{}")


def test_the_receiver_on_the_stack_publishes_to_the_relay_queue(aws: Aws) -> None:
    secretsmanager = aws.client("secretsmanager")
    secretsmanager.put_secret_value(
        SecretId=aws.stack.webhook_secret_arn, SecretString=json.dumps({"tatango_token": TOKEN})
    )
    receiver = build_receiver(Settings.from_env(aws.stack.receiver_environment), aws.session)

    assert receiver.invoke(tatango_event())["statusCode"] == 200

    messages = aws.client("sqs").receive_message(QueueUrl=aws.stack.queue_url, MaxNumberOfMessages=10)[
        "Messages"
    ]
    assert [json.loads(m["Body"])["event_id"] for m in messages] == ["tatango-opt-900001"]
    assert aws.stack.receiver_environment["OPTOUT_QUEUE_URL"] == aws.stack.queue_url
    assert aws.stack.receiver_environment["RESULTS_TABLE_NAME"] == aws.stack.table_name
