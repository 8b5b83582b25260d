"""The receiver's settings, read once from the environment at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from webhook_receiver.errors import ConfigurationError


@dataclass(frozen=True)
class Settings:
    # Secrets Manager secret: {"tatango_token": ..., "trackly_signing_secret": ...}.
    webhook_secret_id: str
    # The relay's source queue: one everywhere-event per STOP goes there.
    optout_queue_url: str
    # The relay's ledger, read for the echo check; None: no echo check (the relay's own stays).
    results_table_name: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every problem in one error: the function does not start half-configured."""
        values = os.environ if env is None else env
        problems = []

        def required(name: str) -> str:
            value = (values.get(name) or "").strip()
            if not value:
                problems.append(f"{name} is required")
            return value

        settings = cls(
            webhook_secret_id=required("WEBHOOK_SECRET_ID"),
            optout_queue_url=required("OPTOUT_QUEUE_URL"),
            results_table_name=(values.get("RESULTS_TABLE_NAME") or "").strip() or None,
        )
        if problems:
            raise ConfigurationError("invalid configuration: " + "; ".join(problems))
        return settings
