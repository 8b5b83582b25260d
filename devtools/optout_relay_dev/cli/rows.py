"""Opt-out rows from a CSV or JSON Lines file, validated with the relay's own parser.

Validation is ``optout_relay.domain.events.parse_optout`` with the provider registry
(``event_reading.read_event``): the same phone normalisation, scopes and error codes as
the Lambda function. What is sent is the normalised event (E.164 numbers), so the
function reads exactly what was validated here.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optout_relay.domain.model import InboundMessage
from optout_relay.errors import InvalidEvent

from optout_relay_dev.cli.errors import CliError
from optout_relay_dev.cli.event_reading import ReadEvent, read_event

CONTRACT_FIELDS = (
    "scope",
    "provider",
    "account",
    "phone_number",
    "list_number",
    "list_id",
    "event_id",
    "occurred_at",
    "source",
    "purposes",
)
# Everywhere-events name no provider: only the number is always there.
REQUIRED_COLUMNS = ("phone_number",)
# A CSV cell holds several purposes separated by ";" (or "," inside quotes).
PURPOSE_SEPARATOR = re.compile(r"[;,]")
CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
_MAX_NAME_IN_EVENT_ID = 80


@dataclass(frozen=True)
class Row:
    """One record of the input; ``line`` is where it starts (1-based), ``None`` for flags."""

    line: int | None
    fields: Mapping[str, Any]
    problem: str | None = None  # set when the line could not be read as a record at all
    problem_code: str = "schema_violation"


@dataclass(frozen=True)
class ValidRow:
    line: int | None
    event: ReadEvent

    @property
    def body(self) -> dict[str, Any]:
        """The SQS message body: the event contract, normalised."""
        return self.event.body


@dataclass(frozen=True)
class RowProblem:
    line: int | None
    code: str
    message: str

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.line is not None else "event"


@dataclass(frozen=True)
class Validation:
    valid: list[ValidRow]
    problems: list[RowProblem]
    ignored_columns: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return len(self.valid) + len(self.problems)


def read_file(path: Path) -> tuple[list[Row], tuple[str, ...]]:
    """The rows of a CSV or JSON Lines file, and the CSV columns that are not event fields."""
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES + JSONL_SUFFIXES:
        raise CliError(f"{path}: unsupported file type {suffix or '(none)'}; use .csv or .jsonl")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            if suffix in CSV_SUFFIXES:
                return _read_csv(path, handle)
            return _read_jsonl(handle), ()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a directory, not a file") from None
    except PermissionError:
        raise CliError(f"{path}: permission denied") from None
    except UnicodeDecodeError as error:
        raise CliError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except csv.Error as error:
        raise CliError(f"{path}: unreadable CSV ({error})") from None
    except OSError as error:
        raise CliError(f"{path}: cannot read it ({error.strerror or error})") from None


def _read_csv(path: Path, handle: Iterable[str]) -> tuple[list[Row], tuple[str, ...]]:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        raise CliError(f"{path}: bad CSV header: the file is empty (expected a header row)")
    columns = [cell.strip().lower() for cell in header]
    duplicates = sorted({name for name in columns if name and columns.count(name) > 1})
    if duplicates:
        raise CliError(f"{path}: bad CSV header: duplicate column {', '.join(duplicates)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise CliError(
            f"{path}: bad CSV header: missing column {', '.join(missing)} "
            f"(columns are event fields: {', '.join(CONTRACT_FIELDS)})"
        )
    ignored = tuple(name for name in columns if name and name not in CONTRACT_FIELDS)
    rows: list[Row] = []
    line = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            if len(cells) > len(columns):
                rows.append(Row(line, {}, f"{len(cells)} cells for {len(columns)} columns"))
            else:
                fields: dict[str, Any] = {
                    name: cell.strip()
                    for name, cell in zip(columns, cells, strict=False)
                    if name in CONTRACT_FIELDS and cell.strip()
                }
                if "purposes" in fields:
                    fields["purposes"] = split_purposes(fields["purposes"])
                rows.append(Row(line, fields))
        line = reader.line_num + 1
    return rows, ignored


def split_purposes(text: str) -> list[str]:
    """``marketing; alerts`` as ``["marketing", "alerts"]`` (a stray separator adds nothing)."""
    return [tag.strip() for tag in PURPOSE_SEPARATOR.split(text) if tag.strip()]


def _read_jsonl(handle: Iterable[str]) -> list[Row]:
    rows: list[Row] = []
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            rows.append(Row(line, {}, f"not valid JSON ({error.msg})", "invalid_json"))
            continue
        if not isinstance(document, dict):
            rows.append(Row(line, {}, "not a JSON object"))
            continue
        rows.append(Row(line, document))
    return rows


def default_event_id(source_name: str, row: Row) -> str:
    """Deterministic: publishing the same file again is idempotent at the ledger."""
    canonical = json.dumps(dict(row.fields), sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return f"{source_name[:_MAX_NAME_IN_EVENT_ID]}:{row.line}:{digest}"


def validate(
    rows: Sequence[Row], default_region: str, source_name: str, ignored_columns: tuple[str, ...] = ()
) -> Validation:
    valid: list[ValidRow] = []
    problems: list[RowProblem] = []
    for row in rows:
        if row.problem is not None:
            problems.append(RowProblem(row.line, row.problem_code, row.problem))
            continue
        fields = dict(row.fields)
        if fields.get("event_id") in (None, ""):
            fields.pop("event_id", None)
            event_id = default_event_id(source_name, row)
        else:
            event_id = ""  # the row's own event_id is used (and validated)
        message = InboundMessage(message_id=event_id, body=json.dumps(fields, default=str), receive_count=1)
        try:
            event = read_event(message, default_region)
        except InvalidEvent as error:
            problems.append(RowProblem(row.line, error.code, error.message))
            continue
        valid.append(ValidRow(row.line, event))
    return Validation(valid, problems, ignored_columns)
