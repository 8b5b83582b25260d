"""SendMessage as strict as SQS itself, for a moto-backed client.

moto stores whatever it is sent; SQS refuses a message whose body or String attribute
holds characters outside its allowed set (control characters, U+FFFE, U+FFFF), a
malformed attribute name, more than 10 attributes, an empty value, or a message over
the size limit. A botocore event handler (public API) checks each SendMessage before
moto sees it and answers as SQS does, with a ``ClientError``.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

# The SQS developer guide allows, in bodies and String attribute values, only
# #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF. botocore sends
# a lone surrogate as a JSON escape without complaint; SQS refuses it like the others.
_FORBIDDEN_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_\-.]{1,256}$")
_MAX_ATTRIBUTES = 10
# The classic limit; newer queues may take up to 1 MiB, but the DLQ here is not configured so.
MAX_MESSAGE_BYTES = 262_144


def make_sqs_strict(sqs_client: Any) -> None:
    # unique_id: registering again (a second test on the same client) replaces, not adds.
    sqs_client.meta.events.register(
        "before-parameter-build.sqs.SendMessage", _check_send_message, unique_id="strict-sqs-send"
    )


def _check_send_message(params: dict[str, Any], **_: Any) -> None:
    problem = send_message_problem(params.get("MessageBody"), params.get("MessageAttributes") or {})
    if problem:
        raise ClientError({"Error": {"Code": "InvalidParameterValue", "Message": problem}}, "SendMessage")


def send_message_problem(body: object, attributes: dict[str, Any]) -> str | None:
    """What SQS would refuse in this message, or ``None``."""
    if not isinstance(body, str) or not body:
        return "The message body must be a non-empty string"
    if _FORBIDDEN_CHARACTER.search(body):
        return "Invalid characters found in the message body"
    if len(attributes) > _MAX_ATTRIBUTES:
        return f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum [10]"
    size = len(body.encode("utf-8", "surrogatepass"))
    for name, attribute in attributes.items():
        if not _valid_name(name):
            return f"Message attribute name '{name}' is invalid"
        data_type, value = attribute.get("DataType", ""), attribute.get("StringValue")
        if not isinstance(value, str) or not value:
            return f"Message attribute '{name}' must contain a non-empty value of type 'String'"
        if _FORBIDDEN_CHARACTER.search(value):
            return f"Message attribute '{name}' contains invalid characters"
        size += sum(len(part.encode("utf-8", "surrogatepass")) for part in (name, data_type, value))
    if size > MAX_MESSAGE_BYTES:
        return f"The message is {size} bytes long; the limit is {MAX_MESSAGE_BYTES} bytes"
    return None


def _valid_name(name: str) -> bool:
    lowered = name.lower()
    return (
        bool(_ATTRIBUTE_NAME.match(name))
        and not lowered.startswith(("aws.", "amazon."))
        and not name.startswith(".")
        and not name.endswith(".")
        and ".." not in name
    )
