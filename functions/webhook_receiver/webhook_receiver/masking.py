"""What may reach a log line: phone numbers and long digit runs masked to their last four
digits, and the Tatango token masked wherever a URL path or query could carry it."""

from __future__ import annotations

import re

# Seven digits or more, possibly with separators: a phone number, or anything that could be one.
_NUMBER_LIKE = re.compile(r"\+?\(?\d(?:[\s().-]*\d){6,}")
# The token rides in the path (/tatango/<token>) or the query (?token=..., ?api_key=...).
_PATH_TOKEN = re.compile(r"(/tatango/)[^\s\"'?&/\\]+", re.IGNORECASE)
_QUERY_TOKEN = re.compile(r"((?:^|[?&\s\"'])(?:token|api_key)=)[^\s\"'&\\]+", re.IGNORECASE)
MASK = "***"


def mask_phone(number: str) -> str:
    digits = [c for c in number if c.isdigit()]
    return MASK + "".join(digits[-4:]) if len(digits) > 4 else MASK


def mask_numbers(text: str) -> str:
    """``text`` with every number-like run of seven or more digits masked like a phone number."""
    return _NUMBER_LIKE.sub(lambda found: mask_phone(found.group()), text)


def mask_url_secrets(text: str) -> str:
    """``text`` with a token in a ``/tatango/...`` path or a ``token=``/``api_key=`` query masked."""
    return _QUERY_TOKEN.sub(rf"\g<1>{MASK}", _PATH_TOKEN.sub(rf"\g<1>{MASK}", text))
