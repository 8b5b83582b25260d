"""What SQS accepts in a message attribute: the XML character set, and a size limit on the
whole message. Used to make every attribute the relay sends valid before it is sent."""

from __future__ import annotations

REPLACEMENT = "\ufffd"
# Refused ASCII: the control characters but tab, line feed and carriage return. (Checked by
# hand rather than with a regular expression: compiling the full Unicode class costs a cold
# start about 5 ms.)
_REFUSED_ASCII = {code: REPLACEMENT for code in range(0x20) if code not in (0x9, 0xA, 0xD)}
_CONTROL = frozenset(chr(code) for code in (*range(0x20), 0x7F))


def _refused(character: str) -> bool:
    """Outside #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF."""
    code = ord(character)
    return not (
        code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000
    )


def is_identifier_text(text: str) -> bool:
    """Fit for an id that travels as a message attribute: no control characters, nothing SQS refuses."""
    return not any(character in _CONTROL or _refused(character) for character in text)


def sqs_safe(text: str) -> str:
    """``text`` with every character SQS refuses replaced by U+FFFD."""
    if text.isascii():
        return text.translate(_REFUSED_ASCII)
    return "".join(REPLACEMENT if _refused(character) else character for character in text)


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def truncate_utf8(text: str, max_bytes: int) -> str:
    """At most ``max_bytes`` of UTF-8, never splitting a character."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max(0, max_bytes)].decode("utf-8", "ignore")
