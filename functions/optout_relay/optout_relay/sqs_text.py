"""What SQS accepts in a message attribute: the XML character set, and a size limit on the
whole message. Used to make every attribute the relay sends valid before it is sent."""

from __future__ import annotations

import re

# Anything outside #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
_REFUSED = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
REPLACEMENT = "\ufffd"


def is_identifier_text(text: str) -> bool:
    """Fit for an id that travels as a message attribute: no control characters, nothing SQS refuses."""
    return not _REFUSED.search(text) and not _CONTROL.search(text)


def sqs_safe(text: str) -> str:
    """``text`` with every character SQS refuses replaced by U+FFFD."""
    return _REFUSED.sub(REPLACEMENT, text)


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def truncate_utf8(text: str, max_bytes: int) -> str:
    """At most ``max_bytes`` of UTF-8, never splitting a character."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max(0, max_bytes)].decode("utf-8", "ignore")
