"""The deadline watcher's settings, read once from its environment at cold start.

Its own small object, not the relay's ``Settings``: the watcher reads the ledger's
index and nothing else, so its function is given (and may read) nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from optout_relay.domain.deadline_watch import MIN_LOOKBACK_DAYS
from optout_relay.env_reader import EnvReader
from optout_relay.errors import ConfigurationError

DEFAULT_LOOKBACK_DAYS = 60
MAX_LOOKBACK_DAYS = 3660


@dataclass(frozen=True)
class WatchSettings:
    results_table_name: str
    # Days of receipts read each run (one Query per day): an opt-out received earlier
    # and still open is no longer watched (the audit report still shows it).
    lookback_days: int = DEFAULT_LOOKBACK_DAYS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WatchSettings:
        """Read and validate every setting; report all problems in one error."""
        read = EnvReader(os.environ if env is None else env)
        settings = cls(
            results_table_name=read.required("RESULTS_TABLE_NAME"),
            lookback_days=read.integer(
                "WATCH_LOOKBACK_DAYS", DEFAULT_LOOKBACK_DAYS, MIN_LOOKBACK_DAYS, MAX_LOOKBACK_DAYS
            ),
        )
        if read.problems:
            raise ConfigurationError("the deadline watcher is misconfigured: " + "; ".join(read.problems))
        return settings
