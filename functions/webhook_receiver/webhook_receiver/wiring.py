"""Composition root: settings and a boto3 session in, a ``WebhookReceiver`` out."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from webhook_receiver.aws.ledger import LedgerReader
from webhook_receiver.aws.queue import QueuePublisher
from webhook_receiver.aws.secrets import WebhookSecretStore
from webhook_receiver.credentials import WebhookCredentials
from webhook_receiver.observability import WebhookMetrics, formatter
from webhook_receiver.receiver import WebhookReceiver
from webhook_receiver.settings import Settings

# A provider waits for our answer: a slow AWS call is retried once, then answered 503.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=4)


def _redact(credentials: WebhookCredentials) -> None:
    formatter.redact(*credentials.values)


def build_receiver(
    settings: Settings,
    session: Any = None,
    *,
    endpoint_url: str | None = None,
    metrics: WebhookMetrics | None = None,
) -> WebhookReceiver:
    session = session or boto3.session.Session()

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url, config=_CLIENT_CONFIG)

    secrets = WebhookSecretStore(settings.webhook_secret_id, client("secretsmanager"), on_read=_redact)
    publisher = QueuePublisher(settings.optout_queue_url, client("sqs"))
    ledger = (
        LedgerReader(settings.results_table_name, client("dynamodb")) if settings.results_table_name else None
    )
    return WebhookReceiver(secrets, publisher, ledger, metrics or WebhookMetrics())
