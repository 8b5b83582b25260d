"""Test-wide environment: no real AWS, no tracing, deterministic settings.

The handler module reads its settings once at import, so these are set before
any test module imports it. Integration tests build their own relay on top.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest

TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "optout-relay",
    "POWERTOOLS_METRICS_NAMESPACE": "OptOutRelay",
    "RESULTS_TABLE_NAME": "optout-relay-results",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/optout-relay-dlq",
    "TRACKLY_SECRET_ID": "optout-relay/trackly",
    "TATANGO_SECRET_ID": "optout-relay/tatango",
    # The webhook receiver's (its handler module reads them at import, as a cold start).
    "WEBHOOK_SECRET_ID": "optout-relay/webhooks",
    "OPTOUT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/optout-relay-queue",
}
for _name, _value in TEST_ENV.items():
    os.environ[_name] = _value
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the relay's structured logger writes during the test."""
    from optout_relay.observability import logger

    stream = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
