"""Powertools objects, created once per execution environment.

The X-Ray SDK is the heaviest import of all: it is loaded only when tracing is on
(inside Lambda, and ``POWERTOOLS_TRACE_DISABLED`` not set), on first use.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "OptOutRelay"
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "optout-relay"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in ("1", "true", "yes", "on")
    return not disabled and bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


@functools.cache
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    # Only AWS SDK calls are patched: patching the HTTP library would put provider URLs,
    # and with them Tatango phone numbers, into trace segments.
    return Tracer(service=SERVICE, patch_modules=["boto3", "botocore"])


def traced_handler(handler: Handler) -> Handler:
    """``Tracer.capture_lambda_handler``, applied at the first invocation if tracing is on."""

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        return _resolved(handler)(event, context)

    return wrapper  # type: ignore[return-value]


@functools.cache
def _resolved(handler: Callable[..., Any]) -> Callable[..., Any]:
    if not tracing_enabled():
        return handler
    return tracer().capture_lambda_handler(handler, capture_response=False)


@contextmanager
def provider_subsegment(provider: str) -> Iterator[None]:
    """A subsegment per provider call, annotated with the provider only: no number, no key."""
    if not tracing_enabled():
        yield
        return
    with tracer().provider.in_subsegment(f"## {provider}.unsubscribe") as subsegment:
        subsegment.put_annotation("provider", provider)
        yield


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
