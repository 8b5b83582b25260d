"""Reading a webhook body's fields: each problem is named by its field and rule, never
by the value sent (answers and logs echo nothing)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_POSITIVE_INTEGER = re.compile(r"^[1-9]\d{0,17}$")
MAX_TEXT = 64


class WebhookShapeError(Exception):
    """The body is not the documented shape; ``problems`` lists every one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def json_object(body: bytes) -> Mapping[str, Any]:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise WebhookShapeError(["body: must be a JSON object"]) from None
    if not isinstance(document, dict):
        raise WebhookShapeError(["body: must be a JSON object"])
    return document


class FieldReader:
    """Reads fields of one body, collecting every problem."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.problems: list[str] = []

    def _value(self, name: str, required: bool) -> Any:
        value = self.document.get(name)
        if value is None or value == "":
            if required:
                self.problems.append(f"{name}: required")
            return None
        return value

    def text(self, name: str, *, required: bool = True) -> str | None:
        value = self._value(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            self.problems.append(f"{name}: must be a string of at most {MAX_TEXT} characters")
            return None
        return value.strip()

    def positive_integer(self, name: str) -> int | None:
        value = self._value(name, True)
        if value is None:
            return None
        text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
        if not _POSITIVE_INTEGER.match(text.strip()):
            self.problems.append(f"{name}: must be a positive integer")
            return None
        return int(text)

    def instant(self, name: str) -> datetime | None:
        """An ISO-8601 date-time; one without an offset is read as UTC (as the relay does)."""
        value = self._value(name, True)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if moment is None:
            self.problems.append(f"{name}: must be an ISO-8601 date-time")
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def e164(self, name: str) -> str | None:
        value = self._value(name, True)
        if value is None:
            return None
        if not isinstance(value, str) or not E164.match(value.strip()):
            self.problems.append(f"{name}: must be an E.164 number (+ and 7 to 15 digits)")
            return None
        return value.strip()

    def done(self) -> None:
        if self.problems:
            raise WebhookShapeError(self.problems)
