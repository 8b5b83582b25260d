"""Finding digits from a message body in what the relay wrote: no run of seven or more
digits taken from a body (a phone number, or anything that may be one) may show in the
logs or the dead-letter attributes, in any formatting."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

DIGIT_RUN = re.compile(r"[0-9]{7,}")
# What a phone number may be written with between its digits: "(415) 555-0123" shows 7+.
_FORMATTING_BETWEEN_DIGITS = re.compile(r"(?<=[0-9])[\s().\-/+]+(?=[0-9])")
# Written by the logger itself, never taken from a body; its digits and dashes would
# otherwise read as a run ("2026-12-01 04" is ten digits once the formatting is removed).
_LOGGER_OWN_KEYS = ("timestamp",)


def secrets_of(body: str, *numbers: str) -> set[str]:
    """The digit runs of seven or more in a body, and the digits of numbers planted in it."""
    runs = {match.group() for match in DIGIT_RUN.finditer(body)}
    return runs | {digits for number in numbers if len(digits := re.sub(r"[^0-9]", "", number)) >= 7}


def leaked(secrets: Iterable[str], text: str) -> set[str]:
    """The secrets of which ``text`` shows any seven consecutive digits."""
    windows = {secret[i : i + 7]: secret for secret in secrets for i in range(len(secret) - 6)}
    collapsed = _FORMATTING_BETWEEN_DIGITS.sub("", text)
    return {
        windows[run[i : i + 7]]
        for run in DIGIT_RUN.findall(collapsed)
        for i in range(len(run) - 6)
        if run[i : i + 7] in windows
    }


def log_text(logs: str) -> str:
    """The structured log lines without what the logger adds itself."""
    lines = []
    for line in logs.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            lines.append(line)
            continue
        if isinstance(entry, dict):
            for key in _LOGGER_OWN_KEYS:
                entry.pop(key, None)
        lines.append(json.dumps(entry, ensure_ascii=False))
    return "\n".join(lines)
