"""Reads environment variables for a settings object, collecting every problem.

Shared by the relay's settings and the deadline watcher's: each function reads only
the variables its own settings name (tests/infra derives them from the code).
"""

from __future__ import annotations

from collections.abc import Mapping

import phonenumbers

from optout_relay.setting_values import RATE_SYNTAX, base_url_problem, parse_rate


class EnvReader:
    """Reads environment variables, collecting every problem instead of stopping at the first."""

    def __init__(self, source: Mapping[str, str]) -> None:
        self.source = source
        self.problems: list[str] = []

    def _raw(self, name: str) -> str:
        return self.source.get(name, "").strip()

    def required(self, name: str) -> str:
        value = self._raw(name)
        if not value:
            self.problems.append(f"{name} is required but not set")
        return value

    def optional(self, name: str) -> str | None:
        return self._raw(name) or None

    def number(self, name: str, default: float, minimum: float, maximum: float) -> float:
        raw = self._raw(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            self.problems.append(f"{name} must be a number, got {raw!r}")
            return default
        if not minimum <= value <= maximum:
            self.problems.append(f"{name} must be between {minimum:g} and {maximum:g}, got {raw}")
        return value

    def integer(self, name: str, default: int, minimum: int, maximum: int) -> int:
        raw = self._raw(name)
        if not raw:
            return default
        if not raw.isdigit() or not minimum <= int(raw) <= maximum:
            self.problems.append(f"{name} must be a whole number from {minimum} to {maximum}, got {raw!r}")
            return default
        return int(raw)

    def base_url(self, name: str, default: str) -> str:
        url = self._raw(name) or default
        problem = base_url_problem(url)
        if problem:
            self.problems.append(f"{name} {problem}")
        return url.rstrip("/")

    def rate(self, name: str, default: float | None) -> float | None:
        raw = self._raw(name)
        if not raw:
            return default
        parsed = parse_rate(raw)
        if parsed is None:
            self.problems.append(f"{name} must be {RATE_SYNTAX}")
            return default
        return parsed.per_second

    def region(self, name: str, default: str) -> str:
        region = self._raw(name).upper() or default
        if region not in phonenumbers.SUPPORTED_REGIONS:
            self.problems.append(f"{name} must be an ISO 3166 region code such as US, got {region!r}")
        return region
