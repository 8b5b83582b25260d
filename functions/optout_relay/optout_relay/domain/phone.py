"""Phone number normalisation with ``phonenumbers``."""

from __future__ import annotations

import re

import phonenumbers

from optout_relay.domain.model import Phone

_MAX_INPUT_LENGTH = 40
_WRITTEN_WITH_DIGITS = re.compile(r"[0-9+\-()./\s]+")


class InvalidPhone(ValueError):
    """Raised with a message that does not repeat the number."""


def normalise_phone(raw: object, default_region: str, field_name: str = "phone_number") -> Phone:
    """Parse E.164 or a national number of ``default_region`` in any common formatting."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhone(f"{field_name} must be a non-empty string")
    if len(raw) > _MAX_INPUT_LENGTH:
        raise InvalidPhone(f"{field_name} is longer than {_MAX_INPUT_LENGTH} characters")
    if not _WRITTEN_WITH_DIGITS.fullmatch(raw):
        # phonenumbers would read letters as a vanity number (415-CALL-NOW) or an extension
        # ("x12"): in an opt-out they are far likelier a mixed-up field than a real number.
        raise InvalidPhone(f"{field_name} must be written with digits, spaces and + - ( ) . / only")
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(
            f"{field_name} is not a phone number (E.164, or national for {default_region})"
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(
            f"{field_name} is not a valid, assignable number (E.164, or national for {default_region})"
        )
    return Phone(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        country_code=int(parsed.country_code or 0),
        national_number=phonenumbers.national_significant_number(parsed),
        region=phonenumbers.region_code_for_number(parsed),
    )
