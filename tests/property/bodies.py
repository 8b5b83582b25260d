"""Message bodies as templates: what a generated record is meant to be, and its text.

The phone number is filled in when a body is rendered: a unique number per record, so a
provider call or a ledger item can be attributed to it. Deep nesting and padding are
spliced into the JSON text, never built as Python objects (``json.dumps`` could not).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

PHONE = "<phone>"  # replaced by the record's number, in the spec's format
MAX_BODY_BYTES = 65_536


class Kind(Enum):
    VALID = "valid"  # must settle in the ledger: the provider is called
    INVALID = "invalid"  # certainly rejected by the contract: never reaches a provider
    MAYBE = "maybe"  # either; accounted for like every record


@dataclass(frozen=True)
class BodySpec:
    kind: Kind
    why: str
    document: Any = None  # a JSON value; strings equal to PHONE become the number
    raw: str | None = None  # a body that is not JSON (PHONE replaced too)
    wrapper: str = "raw"  # raw, sns or eventbridge
    deep: tuple[str, int, str] | None = None  # (body, field or sns; depth; list or object)
    padding: str = ""  # the value of an unknown extra field
    pad_to: int = 0  # bytes: an unknown extra field makes the (raw) body exactly this long
    phone_format: str = "e164"
    provider: str = "trackly"  # the simulator the number is subscribed at
    pinned_event_id: str | None = None  # the optout_event_id message attribute


PHONE_FORMATS = {
    "e164": "+1{a}{e}{line}",
    "parens": "({a}) {e}-{line}",
    "dots": "{a}.{e}.{line}",
    "dashes": "1-{a}-{e}-{line}",
    "spaces": "+1 {a} {e} {line}",
}


def render(spec: BodySpec, phone_e164: str) -> str:
    """The body text of ``spec`` for the number ``phone_e164`` (+1 and ten digits)."""
    digits = phone_e164[2:]
    shown = PHONE_FORMATS[spec.phone_format].format(a=digits[:3], e=digits[3:6], line=digits[6:])
    text = spec.raw.replace(PHONE, shown) if spec.raw is not None else _dumps(_fill(spec.document, shown))
    if spec.padding and text.startswith("{"):
        text = _splice(text, "padding", json.dumps(spec.padding, ensure_ascii=False))
    if spec.pad_to and text.startswith("{"):
        text = _splice(text, "padding", '""')
        text = text[:-2] + "x" * (spec.pad_to - body_bytes(text)) + text[-2:]
    if spec.deep is not None:
        where, depth, shape = spec.deep
        nested = _nested(depth, shape)
        if where == "body":
            text = nested
        elif text.startswith("{"):  # field, or sns: the object inside the Message string
            text = _splice(text, "nested", nested)
    if spec.wrapper == "sns":
        return json.dumps(
            {
                "Type": "Notification",
                "MessageId": "sns-message-id",
                "TopicArn": "arn:aws:sns:us-east-1:account:optouts",
                "Message": text,
                "Timestamp": "2026-11-20T10:00:00.000Z",
            }
        )
    if spec.wrapper == "eventbridge":
        return f'{{"version": "0", "detail-type": "OptOut", "source": "crm", "detail": {text}}}'
    return text


def body_bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _nested(depth: int, shape: str) -> str:
    if shape == "list":
        return "[" * depth + "]" * depth
    return '{"a": ' * depth + "1" + "}" * depth


def _fill(value: Any, phone: str) -> Any:
    if value == PHONE:
        return phone
    if isinstance(value, dict):
        return {key: _fill(item, phone) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, phone) for item in value]
    return value


# Characters SQS refuses in a body: they reach the relay only as JSON escapes.
_NOT_IN_AN_SQS_BODY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _dumps(document: Any) -> str:
    text = json.dumps(document, ensure_ascii=False)
    return json.dumps(document) if _NOT_IN_AN_SQS_BODY.search(text) else text


def _splice(object_text: str, name: str, value_text: str) -> str:
    """Add ``"name": value`` to a JSON object's text."""
    inside = object_text.strip()[1:-1].strip()
    return "{" + inside + ("," if inside else "") + f' "{name}": ' + value_text + "}"
