"""A relay wired to moto (in-process) and the two provider simulators on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import optout_relay.handler as handler_module
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from optout_relay.aws.clients import client
from optout_relay.aws.ledger_items import merge_items
from optout_relay.batch import ConcurrentSqsProcessor
from optout_relay.settings import Settings
from optout_relay.wiring import build_relay
from optout_relay_dev.event_source import EventSourceMapping
from optout_relay_dev.local_stack import LocalStack, create_local_stack
from optout_relay_dev.simulators.tatango import TatangoSimulator
from optout_relay_dev.simulators.trackly import TracklySimulator

TRACKLY_KEY = "trk_" + "T" * 32
TATANGO_LOGIN, TATANGO_KEY = "ops@example.com", "tatango-" + "K" * 24
TRACKLY_LIST = "+18005551234"
TATANGO_LIST = 4242


@dataclass
class RelayWorld:
    stack: LocalStack
    session: Any
    trackly: TracklySimulator
    tatango: TatangoSimulator
    environment: dict[str, str]

    @property
    def sqs(self) -> Any:
        return self.session.client("sqs")

    @property
    def dynamodb(self) -> Any:
        return self.session.client("dynamodb")

    def rewire(self, **overrides: str) -> None:
        """Rebuild the handler's relay from these settings, as a cold start would."""
        self.environment.update(overrides)
        settings = Settings.from_env(self.environment)
        handler_module.relay = build_relay(settings, handler_module.outcome_metrics)
        handler_module.processor = ConcurrentSqsProcessor(workers=settings.record_workers)

    def publish(self, *bodies: dict[str, Any] | str) -> list[str]:
        ids = []
        for body in bodies:
            text = body if isinstance(body, str) else json.dumps(body)
            ids.append(self.sqs.send_message(QueueUrl=self.stack.queue_url, MessageBody=text)["MessageId"])
        return ids

    def mapping(self, **options: Any) -> EventSourceMapping:
        return EventSourceMapping(self.sqs, self.stack.queue_url, handler_module.lambda_handler, **options)

    def ledger_items(self, phone: str) -> list[dict[str, Any]]:
        """The raw items of one phone number, each attribute as its string form."""
        items = self.dynamodb.query(
            TableName=self.stack.table_name,
            KeyConditionExpression="phone_number = :p",
            ExpressionAttributeValues={":p": {"S": phone}},
            ConsistentRead=True,
        )["Items"]
        return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]

    def ledger(self, phone: str) -> list[dict[str, Any]]:
        """One row per target, as operators see it (``ledger_items.merge_items``)."""
        rows = merge_items(self.ledger_items(phone))
        return [{**row, "attempts": str(row["attempts"])} for row in rows]

    def dead_letters(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(
            QueueUrl=self.stack.dead_letter_queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=0,
        ).get("Messages", [])
        return [
            {
                "body": m["Body"],
                **{k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()},
            }
            for m in messages
        ]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[RelayWorld]:
    client.cache_clear()
    parameters.clear_caches()
    parameters.base.DEFAULT_PROVIDERS.clear()
    original_relay, original_processor = handler_module.relay, handler_module.processor
    with (
        mock_aws(),
        TracklySimulator(api_keys=[TRACKLY_KEY]) as trackly,
        TatangoSimulator({TATANGO_LOGIN: TATANGO_KEY}) as tatango,
    ):
        session = boto3.Session(region_name="us-east-1")
        stack = create_local_stack(
            session,
            secrets={
                "trackly": {"api_key": TRACKLY_KEY},
                "tatango": {"email": TATANGO_LOGIN, "api_key": TATANGO_KEY},
            },
            overrides={
                "TRACKLY_BASE_URL": trackly.base_url,
                "TATANGO_BASE_URL": tatango.base_url,
                "PROVIDER_TIMEOUT_SECONDS": "0.5",
                "RETRY_MAX_DELAY_SECONDS": "0.01",
                "TATANGO_MAX_RPS": "unlimited",  # the rate budget has tests of its own
            },
        )
        trackly.add_list(TRACKLY_LIST)
        tatango.add_list(TATANGO_LIST)
        world = RelayWorld(stack, session, trackly, tatango, dict(stack.environment))
        world.rewire()
        try:
            yield world
        finally:
            handler_module.relay, handler_module.processor = original_relay, original_processor
            client.cache_clear()
            parameters.clear_caches()
            parameters.base.DEFAULT_PROVIDERS.clear()
