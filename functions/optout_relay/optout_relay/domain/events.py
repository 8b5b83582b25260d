"""Reads an SQS message body into a validated ``OptOutRequest`` (the public event contract).

The body is a JSON object, optionally wrapped in an SNS notification or an
EventBridge event. ``events/optout-event.schema.json`` documents the same rules.
Every problem found is reported at once, without repeating phone numbers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from optout_relay.domain.model import InboundMessage, ListRef, PartialOptOut, Phone
from optout_relay.domain.phone import InvalidPhone, normalise_phone
from optout_relay.domain.provider_rules import FieldProblem, ProviderRules
from optout_relay.domain.targets import Scope, ScopeKind
from optout_relay.domain.targets_document import ACCOUNT_ID
from optout_relay.errors import InvalidEvent
from optout_relay.sqs_text import is_identifier_text

MAX_EVENT_ID_LENGTH = 128
MAX_SOURCE_LENGTH = 256
# An opt-out is a few hundred bytes, a few more inside an SNS or EventBridge envelope.
MAX_BODY_BYTES = 64 * 1024
MAX_NESTING = 32
MAX_PURPOSES = 32
MAX_PURPOSE_LENGTH = 64
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


@dataclass(frozen=True)
class Origin:
    """Where a STOP landed, reported by the provider's webhook: that list is already out."""

    provider: str
    list_ref: ListRef
    webhook_id: str


@dataclass(frozen=True)
class OptOutRequest:
    """A valid opt-out event: who, and which targets it reaches (its scope)."""

    event_id: str
    phone: Phone
    scope: Scope
    occurred_at: str | None = None
    source: str | None = None
    origin: Origin | None = None

    @property
    def fans_out(self) -> bool:
        return self.scope.kind is not ScopeKind.SINGLE

    @property
    def provider(self) -> str | None:
        return self.scope.provider

    @property
    def list_ref(self) -> ListRef | None:
        return self.scope.list_ref

    @property
    def target(self) -> str | None:
        """The ledger target of a single-list event at its provider's default account (what
        tooling can name without the targets document); ``None`` for a fan-out."""
        if self.scope.list_ref is None or self.scope.provider is None:
            return None
        return f"{self.scope.provider}#{self.scope.list_ref.value}#{self.event_id}"


def parse_optout(
    message: InboundMessage,
    providers: Mapping[str, ProviderRules],
    default_region: str,
) -> OptOutRequest:
    document = unwrap_envelope(message.body)
    problems: list[tuple[str, str]] = []

    default_id = message.message_id
    if message.pinned_event_id is not None:
        default_id = _event_id(message.pinned_event_id, default_id, problems, PINNED_EVENT_ID_NAME)
    event_id = _event_id(document.get("event_id"), default_id, problems)
    kind = _scope_kind(document.get("scope"), problems)
    rules = _provider(document.get("provider"), kind, providers, problems)

    phone: Phone | None = None
    if "phone_number" not in document:
        problems.append(("schema_violation", "phone_number is required"))
    else:
        try:
            phone = normalise_phone(document["phone_number"], default_region)
        except InvalidPhone as error:
            problems.append(("invalid_phone", str(error)))

    list_ref: ListRef | None = None
    if rules is not None and kind is ScopeKind.SINGLE:
        list_ref = _single_target(rules, document, phone, default_region, problems)
    account = _account(document.get("account"), kind, problems)
    purposes = _purposes(document.get("purposes"), kind, problems)
    occurred_at = _occurred_at(document.get("occurred_at"), problems)
    source = _source(document.get("source"), problems)
    origin = _origin(document.get("origin"), providers, default_region, problems)

    if problems:
        raise InvalidOptOut(
            problems[0][0],
            "; ".join(message for _, message in problems),
            PartialOptOut(
                event_id=event_id,
                provider=rules.name if rules is not None and kind is ScopeKind.SINGLE else None,
                phone=phone,
                list_ref=list_ref,
                occurred_at=occurred_at,
                source=source,
            ),
        )
    assert phone is not None
    scope = Scope(kind, rules.name if rules else None, list_ref, account, purposes)
    return OptOutRequest(event_id, phone, scope, occurred_at, source, origin)


def _scope_kind(value: object, problems: list[tuple[str, str]]) -> ScopeKind:
    if value is None:
        return ScopeKind.SINGLE
    if value in (ScopeKind.EVERYWHERE.value, ScopeKind.PROVIDER.value):
        return ScopeKind(value)
    problems.append(("schema_violation", 'scope must be "everywhere" or "provider" when given'))
    return ScopeKind.SINGLE


def _provider(
    value: object, kind: ScopeKind, providers: Mapping[str, ProviderRules], problems: list[tuple[str, str]]
) -> ProviderRules | None:
    if kind is ScopeKind.EVERYWHERE:
        if value is not None:
            problems.append(
                ("schema_violation", 'an everywhere scope names no provider (use scope "provider")')
            )
        return None
    rules = providers.get(value) if isinstance(value, str) else None
    if value is None:
        problems.append(("schema_violation", "provider is required"))
    elif rules is None:
        shown = value if isinstance(value, str) and len(value) <= 40 else "?"
        problems.append(
            ("unknown_provider", f"provider {shown!r} is not one of: {', '.join(sorted(providers))}")
        )
    return rules


def _single_target(
    rules: ProviderRules,
    document: Mapping[str, Any],
    phone: Phone | None,
    default_region: str,
    problems: list[tuple[str, str]],
) -> ListRef | None:
    if phone is not None:
        try:
            rules.check_phone(phone)
        except FieldProblem as problem:
            problems.append((problem.code, problem.message))
    field = rules.list_field
    if field not in document:
        problems.append(("schema_violation", f"{field} is required for provider {rules.name!r}"))
        return None
    try:
        return rules.parse_list_value(document[field], default_region)
    except FieldProblem as problem:
        problems.append((problem.code, f"{field} {problem.message}"))
        return None


def _origin(
    value: object,
    providers: Mapping[str, ProviderRules],
    default_region: str,
    problems: list[tuple[str, str]],
) -> Origin | None:
    if value is None:
        return None
    rules = providers.get(value.get("provider")) if isinstance(value, dict) else None  # type: ignore[arg-type]
    webhook_id = value.get("webhook_id") if isinstance(value, dict) else None
    try:
        if rules is None or not isinstance(value, dict):
            raise FieldProblem("schema_violation", "must name a known provider")
        list_ref = rules.parse_list_value(value.get(rules.list_field), default_region)
    except FieldProblem as problem:
        problems.append(("schema_violation", f"origin {problem.message}"))
        return None
    if (
        not isinstance(webhook_id, str)
        or not 0 < len(webhook_id) <= 128
        or not is_identifier_text(webhook_id)
    ):
        problems.append(("schema_violation", "origin.webhook_id must be a string of 1 to 128 characters"))
        return None
    return Origin(rules.name, list_ref, webhook_id)


def _account(value: object, kind: ScopeKind, problems: list[tuple[str, str]]) -> str | None:
    if value is None:
        return None
    if kind is ScopeKind.EVERYWHERE:
        problems.append(("schema_violation", "an everywhere scope names no account"))
    elif not isinstance(value, str) or not ACCOUNT_ID.match(value):
        problems.append(
            ("schema_violation", "account must be an account id: lowercase letters, digits, dashes")
        )
    else:
        return value
    return None


def _purposes(value: object, kind: ScopeKind, problems: list[tuple[str, str]]) -> frozenset[str]:
    if value is None:
        return frozenset()
    if kind is ScopeKind.SINGLE:
        problems.append(("schema_violation", "purposes narrow an everywhere or provider scope only"))
        return frozenset()
    valid = (
        isinstance(value, list)
        and 0 < len(value) <= MAX_PURPOSES
        and all(isinstance(tag, str) and tag.strip() and len(tag) <= MAX_PURPOSE_LENGTH for tag in value)
    )
    if not valid:
        problems.append(
            (
                "schema_violation",
                f"purposes must be a list of 1 to {MAX_PURPOSES} non-empty strings "
                f"of at most {MAX_PURPOSE_LENGTH} characters",
            )
        )
        return frozenset()
    assert isinstance(value, list)
    return frozenset(str(tag) for tag in value)


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
