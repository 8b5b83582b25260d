"""The receiver's JSON logger and EMF metrics.

Every log line passes through ``MaskingFormatter``: a Tatango token in any URL path or
query, and any secret value the receiver has read, is masked in the serialised line, and
digit runs in a traceback are masked like phone numbers. Lines are built from masked
fields in the first place; this is the net under them (a stray exception message, a
future log call).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from webhook_receiver.masking import MASK, mask_numbers, mask_url_secrets

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "OptOutRelay"
# Fixed, not read from the environment: Powertools names the process-wide logger after the
# service, and the relay's is "optout-relay" (the two share a process in local runs).
# template.yaml sets the same value (a check in tests/infra says so).
SERVICE = "optout-relay-webhooks"
_SHORTEST_REDACTED = 8  # shorter values would mask ordinary words


class MaskingFormatter(LambdaPowertoolsFormatter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._secrets: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def redact(self, *values: str) -> None:
        """Mask these values (the secret's, once read) in every later line."""
        with self._lock:
            self._secrets = self._secrets | {v for v in values if len(v) >= _SHORTEST_REDACTED}

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        for key in ("exception", "stack_trace"):  # an exception's message may quote anything
            if log.get(key) is not None:
                log[key] = json.loads(mask_numbers(json.dumps(log[key], default=str)))
        line = mask_url_secrets(super().serialize(log))
        for secret in self._secrets:
            line = line.replace(secret, MASK)
        return line


formatter = MaskingFormatter()
logger = Logger(service=SERVICE, logger_formatter=formatter)

MetricsSink = Callable[[str], None]
# Every metric the receiver emits (template.yaml's dashboard and alarms are checked against it).
METRIC_NAMES = frozenset(
    {
        "WebhookPublished",
        "WebhookEcho",
        "WebhookIgnored",
        "WebhookUnauthorized",
        "WebhookInvalid",
        "WebhookTooLarge",
        "WebhookRefused",
        "WebhookPublishFailed",
        "WebhookSecretUnavailable",
        "WebhookEchoCheckFailed",
        "WebhookInternalError",
    }
)


def _print_line(line: str) -> None:
    print(line, flush=True)  # EMF: CloudWatch reads the metrics from stdout


class WebhookMetrics:
    """One EMF line per counted outcome, with the ``provider`` dimension. Written to
    ``sink`` (stdout on Lambda), so a local run can send them to its log file."""

    def __init__(self, sink: MetricsSink = _print_line) -> None:
        self.sink = sink
        self.counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def count(self, provider: str, name: str) -> None:
        if name not in METRIC_NAMES:
            raise ValueError(f"{name} is not in METRIC_NAMES")
        emf = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
        emf.add_dimension(name="provider", value=provider)
        emf.add_metric(name=name, unit=MetricUnit.Count, value=1)
        line = json.dumps(emf.serialize_metric_set(), separators=(",", ":"))
        with self._lock:
            self.counts[(provider, name)] = self.counts.get((provider, name), 0) + 1
            self.sink(line)
