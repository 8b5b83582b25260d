"""The composition root: builds the relay from settings and the real AWS adapters."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from optout_relay.aws.clients import client, size_pools
from optout_relay.aws.dead_letters import SqsDeadLetters
from optout_relay.aws.ledger import DynamoLedger
from optout_relay.aws.rate_budget import DynamoRateBudget
from optout_relay.aws.secrets import SecretsManagerStore
from optout_relay.aws.source_queue import SqsSourceQueue
from optout_relay.aws.targets_store import targets_source
from optout_relay.domain.batch import Planner
from optout_relay.domain.effects import Effects
from optout_relay.domain.relay import Relay
from optout_relay.domain.retry import RetryPolicy
from optout_relay.domain.target_call import ProviderCaller
from optout_relay.observability import OutcomeMetrics, logger
from optout_relay.providers.http import HttpClient
from optout_relay.providers.registry import CONTRACTS, AdapterPerAccount
from optout_relay.settings import Settings

# What every invocation uses. Created in the init phase, as AWS recommends for SDK
# clients; the dead-letter and source queue clients wait for their first use.
EAGER_CLIENTS = ("dynamodb", "secretsmanager")


def build_relay(settings: Settings, metrics: OutcomeMetrics) -> Relay:
    size_pools(settings.record_workers)
    http = HttpClient(
        timeout_seconds=settings.provider_timeout_seconds, pool_size=settings.record_concurrency
    )
    ledger = DynamoLedger(settings.results_table_name, retention_days=settings.ledger_retention_days)
    caller = ProviderCaller(
        clients=AdapterPerAccount(http),
        secrets=SecretsManagerStore(),
        retry_policy=RetryPolicy(
            max_attempts=settings.max_attempts_per_invocation,
            max_delay=settings.retry_max_delay_seconds,
            call_timeout=settings.provider_timeout_seconds,
        ),
        metrics=metrics,
        budget=DynamoRateBudget(settings.results_table_name),
        slots=threading.BoundedSemaphore(settings.record_concurrency),
    )
    targets = targets_source(
        settings.targets_table_name, settings.provider_defaults(), settings.default_phone_region
    )
    return Relay(
        contracts=CONTRACTS,
        caller=caller,
        planner=Planner(targets, ledger),
        effects=Effects(
            ledger=ledger,
            dead_letters=SqsDeadLetters(settings.dead_letter_queue_url),
            source_queue=SqsSourceQueue(),
            max_receive_count=settings.max_receive_count,
        ),
        metrics=metrics,
        default_region=settings.default_phone_region,
        executor=ThreadPoolExecutor(max_workers=settings.record_concurrency, thread_name_prefix="target"),
    )


def create_clients() -> None:
    try:
        for service in EAGER_CLIENTS:
            client(service)
    except Exception as error:
        logger.warning("Could not create the AWS clients at init", extra={"error": type(error).__name__})
