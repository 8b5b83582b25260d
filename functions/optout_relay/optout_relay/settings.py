"""One typed settings object, read once from the environment at cold start."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from urllib.parse import urlsplit

import phonenumbers

from optout_relay.errors import ConfigurationError
from optout_relay.providers.registry import PROVIDERS

# The fleet budget is one DynamoDB item with a slot per call of the window, rewritten by
# every call: above this, its writes would pass one partition's 1,000 WCU a second.
MAX_BUDGETED_RPS = 100


@dataclass(frozen=True)
class ProviderSettings:
    name: str
    base_url: str
    secret_id: str
    max_rps: float | None  # fleet-wide calls per second; None: unlimited


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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting; report all problems in one error."""
        source = os.environ if env is None else env
        problems: list[str] = []

        def required(name: str) -> str:
            value = source.get(name, "").strip()
            if not value:
                problems.append(f"{name} is required but not set")
            return value

        def number(name: str, default: float, minimum: float, maximum: float) -> float:
            raw = source.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                problems.append(f"{name} must be a number, got {raw!r}")
                return default
            if not minimum <= value <= maximum:
                problems.append(f"{name} must be between {minimum:g} and {maximum:g}, got {raw}")
            return value

        def integer(name: str, default: int, minimum: int, maximum: int) -> int:
            raw = source.get(name, "").strip()
            if not raw:
                return default
            if not raw.isdigit() or not minimum <= int(raw) <= maximum:
                problems.append(f"{name} must be a whole number from {minimum} to {maximum}, got {raw!r}")
                return default
            return int(raw)

        def base_url(name: str, default: str) -> str:
            url = source.get(name, "").strip() or default
            problem = _base_url_problem(url)
            if problem:
                problems.append(f"{name} {problem}")
            return url.rstrip("/")

        def rate(name: str, default: float | None) -> float | None:
            raw = source.get(name, "").strip().lower()
            if not raw:
                return default
            if raw == "unlimited":
                return None
            try:
                value = float(Fraction(raw))
            except (ValueError, ZeroDivisionError):
                value = 0.0
            if not 0 < value <= MAX_BUDGETED_RPS:
                problems.append(
                    f"{name} must be calls per second up to {MAX_BUDGETED_RPS} (e.g. 10, 0.5 or 1200/3600)"
                    " or 'unlimited'"
                )
                return default
            return value

        providers = {
            name: ProviderSettings(
                name=name,
                base_url=base_url(f"{name.upper()}_BASE_URL", adapter.default_base_url),
                secret_id=required(f"{name.upper()}_SECRET_ID"),
                max_rps=rate(f"{name.upper()}_MAX_RPS", adapter.default_max_rps),
            )
            for name, adapter in PROVIDERS.items()
        }
        region = source.get("DEFAULT_PHONE_REGION", "").strip().upper() or "US"
        if region not in phonenumbers.SUPPORTED_REGIONS:
            problems.append(
                f"DEFAULT_PHONE_REGION must be an ISO 3166 region code such as US, got {region!r}"
            )

        settings = cls(
            results_table_name=required("RESULTS_TABLE_NAME"),
            dead_letter_queue_url=required("DEAD_LETTER_QUEUE_URL"),
            providers=providers,
            provider_timeout_seconds=number("PROVIDER_TIMEOUT_SECONDS", 10.0, 0.1, 900.0),
            retry_max_delay_seconds=number("RETRY_MAX_DELAY_SECONDS", 30.0, 0.0, 900.0),
            default_phone_region=region,
            max_receive_count=integer("MAX_RECEIVE_COUNT", 5, 1, 1000),
            max_attempts_per_invocation=integer("MAX_ATTEMPTS_PER_INVOCATION", 3, 1, 20),
            ledger_retention_days=integer("LEDGER_RETENTION_DAYS", 0, 0, 36_500),
            record_concurrency=integer("RECORD_CONCURRENCY", 25, 1, 64),
        )
        if problems:
            raise ConfigurationError("optout-relay is misconfigured: " + "; ".join(problems))
        return settings


def _base_url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"must be an https:// URL, got {url!r}"
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return f"must use https:// (plain http:// is allowed only for a loopback host), got {url!r}"
    if parts.query or parts.fragment or parts.username:
        return f"must be a plain base URL without credentials, query or fragment, got {url!r}"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
