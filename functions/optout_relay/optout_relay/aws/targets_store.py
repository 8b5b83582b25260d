"""The targets document in its DynamoDB table: the only module that reads it.

One item per applied version, never updated: partition key ``document`` (always
``"targets"``), sort key ``version`` (1, 2, ...). Applying is a conditional put of
version N+1 (``optout-relay targets apply``; the function may only read), so two
concurrent applies cannot both win, and an item is written whole or not at all. The
body is canonical JSON, zlib-compressed: 10,000 lists stay far under the 400 KB item.

The function asks for the latest version through a Powertools parameters provider
(cached ``LATEST_MAX_AGE_SECONDS``, so an applied version is in force within a
minute) and validates it when its version is new. A version that fails validation is
logged and ignored: the last valid version stays in force.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.parameters import GetParameterError
from aws_lambda_powertools.utilities.parameters.base import BaseProvider

from optout_relay.aws.clients import LazyClient
from optout_relay.aws.errors import transient_from
from optout_relay.domain.targets import FixedTargets, ProviderDefaults, TargetsDocument, default_document
from optout_relay.domain.targets_document import InvalidTargetsDocument, parse_targets_document
from optout_relay.errors import TransientError
from optout_relay.masking import mask_numbers
from optout_relay.observability import logger

PARTITION_KEY = "document"
SORT_KEY = "version"
DOCUMENT_NAME = "targets"
ENCODING = "zlib+json"
# Well under DynamoDB's 400 KB item, with room for the other attributes.
MAX_STORED_BODY_BYTES = 300_000
# An applied version is in force in every environment within a minute.
LATEST_MAX_AGE_SECONDS = 50
# Versions never change: one read is enough (an environment lives hours, not days).
VERSION_MAX_AGE_SECONDS = 24 * 3600
# A cold start that finds the latest version invalid looks this far back for a valid one.
LOOK_BACK_VERSIONS = 10
PARSED_VERSIONS_KEPT = 8
_LATEST = "latest"


@dataclass(frozen=True)
class StoredTargets:
    version: int
    body: Any
    applied_at: str
    applied_by: str


def canonical_json(body: Any) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def encode_item(version: int, body: Any, *, applied_at: str, applied_by: str) -> dict[str, Any]:
    """The DynamoDB item (attribute values) that stores ``body`` as ``version``."""
    text = canonical_json(body)
    packed = zlib.compress(text, 9)
    if len(packed) > MAX_STORED_BODY_BYTES:
        raise ValueError(
            f"the document is {len(packed):,} bytes compressed, above the {MAX_STORED_BODY_BYTES:,} "
            "the store keeps in one item"
        )
    accounts = body.get("accounts") if isinstance(body, Mapping) else None
    lists = sum(len(a.get("lists") or ()) for a in accounts or () if isinstance(a, Mapping))
    return {
        PARTITION_KEY: {"S": DOCUMENT_NAME},
        SORT_KEY: {"N": str(version)},
        "body": {"B": packed},
        "encoding": {"S": ENCODING},
        "sha256": {"S": hashlib.sha256(text).hexdigest()},
        "applied_at": {"S": applied_at},
        "applied_by": {"S": applied_by},
        "accounts": {"N": str(len(accounts or ()))},
        "lists": {"N": str(lists)},
    }


def decode_item(item: Mapping[str, Any]) -> StoredTargets:
    """The stored version; ``ValueError`` if the item is damaged or in an unknown encoding."""
    try:
        version = int(item[SORT_KEY]["N"])
        if item["encoding"]["S"] != ENCODING:
            raise ValueError(f"unknown encoding {item['encoding']['S']!r}")
        text = zlib.decompress(item["body"]["B"])
        if hashlib.sha256(text).hexdigest() != item["sha256"]["S"]:
            raise ValueError("the body does not match its sha256")
        body = json.loads(text)
    except (KeyError, TypeError, zlib.error, json.JSONDecodeError) as error:
        raise ValueError(f"damaged item ({error.__class__.__name__})") from None
    return StoredTargets(version, body, item["applied_at"]["S"], item["applied_by"]["S"])


class TargetsItems(BaseProvider):
    """Powertools provider of the table's items: ``"latest"`` or a version number as name.
    Answers ``{"item": ...}`` (``None`` when there is none: cached like any answer)."""

    dynamodb = LazyClient("dynamodb")

    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        super().__init__(client=dynamodb)  # type: ignore[no-untyped-call]
        self.table_name = table_name
        self._dynamodb = dynamodb

    def _get(self, name: str, **sdk_options: Any) -> dict[str, Any]:
        if name == _LATEST:
            return {"item": next(iter(self.newest(1)), None)}
        key = {PARTITION_KEY: {"S": DOCUMENT_NAME}, SORT_KEY: {"N": str(int(name))}}
        return {"item": self.dynamodb.get_item(TableName=self.table_name, Key=key).get("Item")}

    def newest(self, count: int) -> list[dict[str, Any]]:
        answer = self.dynamodb.query(
            TableName=self.table_name,
            KeyConditionExpression="#d = :d",
            ExpressionAttributeNames={"#d": PARTITION_KEY},
            ExpressionAttributeValues={":d": {"S": DOCUMENT_NAME}},
            ScanIndexForward=False,
            Limit=count,
        )
        return list(answer.get("Items", []))

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, str]:
        raise NotImplementedError("read the latest version or one version by number")


class DynamoTargetsStore:
    """The ``TargetsSource`` of a deployed function: the table's latest valid version."""

    def __init__(
        self,
        table_name: str,
        defaults: Mapping[str, ProviderDefaults],
        default_region: str,
        *,
        dynamodb: Any = None,
        max_age: int = LATEST_MAX_AGE_SECONDS,
    ) -> None:
        self.items = TargetsItems(table_name, dynamodb)
        self.defaults = dict(defaults)
        self.default_region = default_region
        self.max_age = max_age
        self._lock = threading.Lock()
        self._in_force: TargetsDocument | None = None
        self._parsed: OrderedDict[int, TargetsDocument] = OrderedDict()
        self._refused: set[int] = set()

    def current(self) -> TargetsDocument:
        with self._lock:
            try:
                item = self._fetch(_LATEST, self.max_age)
            except GetParameterError as error:
                return self._unreadable(error)
            if item is None:
                if self._in_force is None or self._in_force.is_stored:
                    self._in_force = default_document(self.defaults)
            else:
                found = self._valid(item)
                if found is not None:
                    self._in_force = found
                elif self._in_force is None:
                    self._in_force = self._newest_valid()
            return self._in_force

    def version(self, number: int) -> TargetsDocument | None:
        if number == 0:
            return default_document(self.defaults)
        with self._lock:
            if number in self._parsed:
                return self._parsed[number]
            try:
                item = self._fetch(str(number), VERSION_MAX_AGE_SECONDS)
            except GetParameterError as error:
                raise _transient(error) from None
            return None if item is None else self._valid(item)

    def _fetch(self, name: str, max_age: int) -> Mapping[str, Any] | None:
        answer = self.items.get(name, max_age=max_age)
        item = answer.get("item") if isinstance(answer, dict) else None
        return item if isinstance(item, Mapping) else None

    def _valid(self, item: Mapping[str, Any]) -> TargetsDocument | None:
        """The item's document if it is valid (parsed once per version), else ``None``."""
        number = int(item[SORT_KEY]["N"])
        if number in self._parsed:
            return self._parsed[number]
        if number in self._refused:
            return None
        try:
            stored = decode_item(item)
            document = parse_targets_document(
                stored.body, version=number, defaults=self.defaults, default_region=self.default_region
            )
        except (ValueError, InvalidTargetsDocument) as error:
            self._refused.add(number)
            problems = error.problems if isinstance(error, InvalidTargetsDocument) else [str(error)]
            logger.error(
                "Targets document version refused; the last valid version stays in force",
                extra={
                    "targets_version": number,
                    "in_force_version": self._in_force.version if self._in_force else None,
                    "problem_count": len(problems),
                    "problems": [mask_numbers(p) for p in problems[:10]],
                },
            )
            return None
        self._parsed[number] = document
        while len(self._parsed) > PARSED_VERSIONS_KEPT:
            self._parsed.popitem(last=False)
        return document

    def _newest_valid(self) -> TargetsDocument:
        """A cold start whose latest version is invalid: the newest valid one before it."""
        try:
            items = self.items.newest(LOOK_BACK_VERSIONS)
        except Exception as error:
            raise transient_from("reading the targets document", error) from None
        for item in items:
            document = self._valid(item)
            if document is not None:
                return document
        raise TransientError(
            "targets_document_invalid",
            f"none of the newest {LOOK_BACK_VERSIONS} targets document versions is valid: "
            "apply a valid one with `optout-relay targets apply FILE`",
        )

    def _unreadable(self, error: GetParameterError) -> TargetsDocument:
        if self._in_force is None:
            raise _transient(error) from None
        logger.warning(
            "Could not read the targets document; the version in force stays",
            extra={"in_force_version": self._in_force.version},
        )
        return self._in_force


def _transient(error: GetParameterError) -> TransientError:
    cause = error.__cause__ or error.__context__
    return transient_from("reading the targets document", cause if isinstance(cause, Exception) else error)


def targets_source(
    table_name: str | None, defaults: Mapping[str, ProviderDefaults], default_region: str
) -> DynamoTargetsStore | FixedTargets:
    """The store when ``TARGETS_TABLE_NAME`` is set; else the default document, always."""
    if table_name is None:
        return FixedTargets(default_document(defaults))
    return DynamoTargetsStore(table_name, defaults, default_region)
