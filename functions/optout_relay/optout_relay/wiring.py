"""The composition root: builds the relay from settings and the real AWS adapters."""

from __future__ import annotations

from optout_relay.aws.clients import size_pools
from optout_relay.aws.dead_letters import SqsDeadLetters
from optout_relay.aws.ledger import DynamoLedger
from optout_relay.aws.rate_budget import DynamoRateBudget
from optout_relay.aws.secrets import SecretsManagerStore
from optout_relay.aws.source_queue import SqsSourceQueue
from optout_relay.domain.relay import Relay
from optout_relay.domain.retry import RetryPolicy
from optout_relay.observability import OutcomeMetrics
from optout_relay.providers.http import HttpClient
from optout_relay.providers.registry import PROVIDERS
from optout_relay.settings import Settings


def build_relay(settings: Settings, metrics: OutcomeMetrics) -> Relay:
    size_pools(settings.record_concurrency)
    http = HttpClient(
        timeout_seconds=settings.provider_timeout_seconds, pool_size=settings.record_concurrency
    )
    return Relay(
        providers={
            name: adapter(settings.providers[name].base_url, http) for name, adapter in PROVIDERS.items()
        },
        secret_ids={name: provider.secret_id for name, provider in settings.providers.items()},
        ledger=DynamoLedger(settings.results_table_name, retention_days=settings.ledger_retention_days),
        dead_letters=SqsDeadLetters(settings.dead_letter_queue_url),
        secrets=SecretsManagerStore(),
        source_queue=SqsSourceQueue(),
        retry_policy=RetryPolicy(
            max_attempts=settings.max_attempts_per_invocation,
            max_delay=settings.retry_max_delay_seconds,
        ),
        metrics=metrics,
        default_region=settings.default_phone_region,
        max_receive_count=settings.max_receive_count,
        budget=DynamoRateBudget(settings.results_table_name),
        rate_limits={name: provider.max_rps for name, provider in settings.providers.items()},
    )
