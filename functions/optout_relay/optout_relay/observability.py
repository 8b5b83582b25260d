"""Powertools objects, created once per execution environment."""

from __future__ import annotations

import os
import threading
from collections import defaultdict

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "OptOutRelay"
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "optout-relay"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# Only AWS SDK calls are patched: patching the HTTP library would put provider URLs,
# and with them Tatango phone numbers, into trace segments.
tracer = Tracer(service=SERVICE, patch_modules=["boto3", "botocore"])


class OutcomeMetrics:
    """Per-provider EMF metrics (dimension ``provider``), flushed once per invocation."""

    def __init__(self) -> None:
        self._by_provider: dict[str, EphemeralMetrics] = {}
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str], float] = defaultdict(float)

    def _for(self, provider: str) -> EphemeralMetrics:
        if provider not in self._by_provider:
            emf = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
            emf.set_default_dimensions(provider=provider)
            self._by_provider[provider] = emf
        return self._by_provider[provider]

    def count(self, provider: str, name: str, value: float = 1) -> None:
        with self._lock:
            self.counts[(provider, name)] += value
            self._for(provider).add_metric(name=name, unit=MetricUnit.Count, value=value)

    def latency(self, provider: str, seconds: float) -> None:
        with self._lock:
            self._for(provider).add_metric(
                name="ProviderLatency", unit=MetricUnit.Milliseconds, value=round(seconds * 1000, 1)
            )

    def flush(self) -> None:
        with self._lock:
            for emf in self._by_provider.values():
                if emf.metric_set:
                    emf.flush_metrics()
