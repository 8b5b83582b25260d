"""One typed settings object, read once from the environment at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from optout_relay.domain.targets import ProviderDefaults
from optout_relay.env_reader import EnvReader
from optout_relay.errors import ConfigurationError
from optout_relay.providers.registry import CONTRACTS, PROVIDERS
from optout_relay.setting_values import MAX_BUDGETED_RPS

__all__ = ["MAX_BUDGETED_RPS", "ProviderSettings", "Settings"]


@dataclass(frozen=True)
class ProviderSettings:
    name: str
    base_url: str
    secret_id: str
    # Calls per second of one account, shared by the fleet: the default account's, and that of
    # every account of the targets document that sets none. None: unlimited.
    max_rps: float | None


@dataclass(frozen=True)
class Settings:
    results_table_name: str
    dead_letter_queue_url: str
    providers: Mapping[str, ProviderSettings]
    provider_timeout_seconds: float
    retry_max_delay_seconds: float
    default_phone_region: str
    max_receive_count: int
    max_attempts_per_invocation: int
    ledger_retention_days: int
    record_concurrency: int
    # The targets document's table; None: no document, one default account per provider.
    targets_table_name: str | None = None

    @property
    def record_workers(self) -> int:
        """Records handled at once. ``RECORD_CONCURRENCY`` bounds provider calls in flight;
        twice as many records let one record's call run while another's answer is written."""
        return 2 * self.record_concurrency

    def provider_defaults(self) -> dict[str, ProviderDefaults]:
        """What each provider's accounts get when the targets document does not say."""
        return {
            name: ProviderDefaults(
                rules=CONTRACTS[name],
                base_url=provider.base_url,
                max_rps=provider.max_rps,
                secret_id=provider.secret_id,
            )
            for name, provider in self.providers.items()
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting; report all problems in one error."""
        read = EnvReader(os.environ if env is None else env)
        providers = {
            name: ProviderSettings(
                name=name,
                base_url=read.base_url(f"{name.upper()}_BASE_URL", adapter.default_base_url),
                secret_id=read.required(f"{name.upper()}_SECRET_ID"),
                max_rps=read.rate(f"{name.upper()}_MAX_RPS", adapter.default_max_rps),
            )
            for name, adapter in PROVIDERS.items()
        }
        settings = cls(
            results_table_name=read.required("RESULTS_TABLE_NAME"),
            dead_letter_queue_url=read.required("DEAD_LETTER_QUEUE_URL"),
            providers=providers,
            provider_timeout_seconds=read.number("PROVIDER_TIMEOUT_SECONDS", 10.0, 0.1, 900.0),
            retry_max_delay_seconds=read.number("RETRY_MAX_DELAY_SECONDS", 30.0, 0.0, 900.0),
            default_phone_region=read.region("DEFAULT_PHONE_REGION", "US"),
            max_receive_count=read.integer("MAX_RECEIVE_COUNT", 5, 1, 1000),
            max_attempts_per_invocation=read.integer("MAX_ATTEMPTS_PER_INVOCATION", 3, 1, 20),
            ledger_retention_days=read.integer("LEDGER_RETENTION_DAYS", 0, 0, 36_500),
            record_concurrency=read.integer("RECORD_CONCURRENCY", 25, 1, 64),
            targets_table_name=read.optional("TARGETS_TABLE_NAME"),
        )
        if read.problems:
            raise ConfigurationError("optout-relay is misconfigured: " + "; ".join(read.problems))
        return settings
