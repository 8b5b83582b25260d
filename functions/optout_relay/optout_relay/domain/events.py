"""Reads an SQS message body into a validated ``OptOut`` (the public event contract).

The body is a JSON object, optionally wrapped in an SNS notification or an
EventBridge event. ``events/optout-event.schema.json`` documents the same rules.
Every problem found is reported at once, without repeating phone numbers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from optout_relay.domain.model import InboundMessage, ListRef, OptOut, PartialOptOut, Phone
from optout_relay.domain.phone import InvalidPhone, normalise_phone
from optout_relay.errors import InvalidEvent
from optout_relay.providers.base import FieldProblem, ProviderAdapter
from optout_relay.sqs_text import is_identifier_text

MAX_EVENT_ID_LENGTH = 128
MAX_SOURCE_LENGTH = 256
# An opt-out is a few hundred bytes, a few more inside an SNS or EventBridge envelope.
MAX_BODY_BYTES = 64 * 1024
MAX_NESTING = 32
PINNED_EVENT_ID_NAME = "message attribute optout_event_id"


class InvalidOptOut(InvalidEvent):
    """An invalid event, with what could still be read of it for the ledger."""

    def __init__(self, code: str, message: str, partial: PartialOptOut) -> None:
        super().__init__(code, message)
        self.partial = partial


def unwrap_envelope(body: str) -> dict[str, Any]:
    """Return the opt-out object from a raw, SNS-wrapped or EventBridge-wrapped body."""
    size = len(body.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise InvalidEvent(
            "body_too_large", f"the message body is {size} bytes; an opt-out is at most {MAX_BODY_BYTES}"
        )
    document = _loads(body, "message body")
    if isinstance(document, dict) and document.get("Type") == "Notification" and "Message" in document:
        message = document["Message"]
        document = _loads(message, "SNS Message") if isinstance(message, str) else message
    if isinstance(document, dict) and "detail-type" in document and "detail" in document:
        document = document["detail"]
    if not isinstance(document, dict):
        raise InvalidEvent("schema_violation", "the event must be a JSON object")
    return document


def _loads(text: str, what: str) -> Any:
    try:
        document = json.loads(text)
    except RecursionError:
        document = None
    except (TypeError, ValueError) as error:
        raise InvalidEvent("invalid_json", f"{what} is not valid JSON ({error.__class__.__name__})") from None
    else:
        if _nesting(document) <= MAX_NESTING:
            return document
    raise InvalidEvent("body_too_deep", f"{what} is nested more than {MAX_NESTING} levels deep")


def _nesting(document: Any) -> int:
    """How deep arrays and objects nest, measured without recursion."""
    deepest, pending = 0, [(document, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            break
        pending.extend((child, depth + 1) for child in children)
    return deepest


def parse_optout(
    message: InboundMessage,
    providers: Mapping[str, ProviderAdapter],
    default_region: str,
) -> OptOut:
    document = unwrap_envelope(message.body)
    problems: list[tuple[str, str]] = []

    default_id = message.message_id
    if message.pinned_event_id is not None:
        default_id = _event_id(message.pinned_event_id, default_id, problems, PINNED_EVENT_ID_NAME)
    event_id = _event_id(document.get("event_id"), default_id, problems)

    provider_name = document.get("provider")
    adapter = providers.get(provider_name) if isinstance(provider_name, str) else None
    if provider_name is None:
        problems.append(("schema_violation", "provider is required"))
    elif adapter is None:
        shown = provider_name if isinstance(provider_name, str) and len(provider_name) <= 40 else "?"
        problems.append(
            (
                "unknown_provider",
                f"provider {shown!r} is not one of: {', '.join(sorted(providers))}",
            )
        )

    phone: Phone | None = None
    if "phone_number" not in document:
        problems.append(("schema_violation", "phone_number is required"))
    else:
        try:
            phone = normalise_phone(document["phone_number"], default_region)
        except InvalidPhone as error:
            problems.append(("invalid_phone", str(error)))

    list_ref: ListRef | None = None
    if adapter is not None:
        if phone is not None:
            try:
                adapter.check_phone(phone)
            except FieldProblem as problem:
                problems.append((problem.code, problem.message))
        try:
            list_ref = adapter.parse_list(document, default_region)
        except FieldProblem as problem:
            problems.append((problem.code, problem.message))

    occurred_at = _occurred_at(document.get("occurred_at"), problems)
    source = _source(document.get("source"), problems)

    if problems:
        code = problems[0][0]
        raise InvalidOptOut(
            code,
            "; ".join(message for _, message in problems),
            PartialOptOut(
                event_id=event_id,
                provider=provider_name if adapter is not None else None,
                phone=phone,
                list_ref=list_ref,
                occurred_at=occurred_at,
                source=source,
            ),
        )
    assert adapter is not None and phone is not None and list_ref is not None
    return OptOut(
        event_id=event_id,
        provider=adapter.name,
        phone=phone,
        list_ref=list_ref,
        occurred_at=occurred_at,
        source=source,
    )


def _event_id(value: object, default: str, problems: list[tuple[str, str]], name: str = "event_id") -> str:
    if value is None:
        return default
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_EVENT_ID_LENGTH
        or not is_identifier_text(value)
    ):
        problems.append(
            (
                "schema_violation",
                f"{name} must be a non-empty string of at most {MAX_EVENT_ID_LENGTH} characters, "
                "without control characters",
            )
        )
        return default
    return value


def _storable(text: str) -> bool:
    """Whether DynamoDB can store it: JSON's \\ud800 escapes give lone surrogates, which it cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _occurred_at(value: object, problems: list[tuple[str, str]]) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:  # no offset given: read it as UTC
                moment = moment.replace(tzinfo=UTC)
            try:
                return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
            except OverflowError:
                problems.append(
                    ("date_out_of_range", "occurred_at is a date-time that cannot be expressed in UTC")
                )
                return None
    problems.append(("schema_violation", "occurred_at must be an ISO-8601 date-time"))
    return None


def _source(value: object, problems: list[tuple[str, str]]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_SOURCE_LENGTH or not _storable(value):
        problems.append(
            (
                "schema_violation",
                f"source must be a string of at most {MAX_SOURCE_LENGTH} characters",
            )
        )
        return None
    return value
