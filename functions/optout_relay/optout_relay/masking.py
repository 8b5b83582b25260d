"""Masking by construction: what may reach a log line, an error message or a DLQ attribute.

A phone number shows its last four digits at most, and so does any run of seven or more
digits in text that came from outside (an event id, a provider's error body), with or
without the separators people write numbers with.
"""

from __future__ import annotations

import re

# Seven digits or more, possibly with separators: a phone number, or anything that could be one.
_NUMBER_LIKE = re.compile(r"\+?\(?\d(?:[\s().-]*\d){6,}")


def mask_phone(number: str) -> str:
    digits = [c for c in number if c.isdigit()]
    return "***" + "".join(digits[-4:]) if len(digits) > 4 else "***"


def mask_numbers(text: str) -> str:
    """``text`` with every number-like run of seven or more digits masked like a phone number."""
    return _NUMBER_LIKE.sub(lambda found: mask_phone(found.group()), text)
