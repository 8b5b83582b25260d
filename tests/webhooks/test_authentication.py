"""Each accepted form of Trackly's signature, and Tatango's URL token, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from webhook_receiver import authentication
from webhook_receiver.authentication import (
    tatango_token_from,
    tatango_token_matches,
    trackly_signature_matches,
    trackly_signed_by_any,
)

from .conftest import TOKEN, TRACKLY_SECRET

BODY = b'{"event": "unsubscribe", "phone_number": "+14155559876"}'
DIGEST = hmac.new(TRACKLY_SECRET.encode(), BODY, hashlib.sha256).digest()


def test_signature_as_hex() -> None:
    assert trackly_signature_matches(TRACKLY_SECRET, BODY, DIGEST.hex())
    assert trackly_signature_matches(TRACKLY_SECRET, BODY, DIGEST.hex().upper())


def test_signature_as_sha256_prefixed_hex() -> None:
    assert trackly_signature_matches(TRACKLY_SECRET, BODY, "sha256=" + DIGEST.hex())
    assert trackly_signature_matches(TRACKLY_SECRET, BODY, " SHA256=" + DIGEST.hex() + " ")


def test_signature_as_base64() -> None:
    assert trackly_signature_matches(TRACKLY_SECRET, BODY, base64.b64encode(DIGEST).decode())
    assert trackly_signature_matches(TRACKLY_SECRET, BODY, "sha256=" + base64.b64encode(DIGEST).decode())


def test_signature_as_unpadded_url_safe_base64() -> None:
    encoded = base64.urlsafe_b64encode(DIGEST).decode().rstrip("=")
    assert trackly_signature_matches(TRACKLY_SECRET, BODY, encoded)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "not a signature",
        DIGEST.hex()[:-2],  # truncated
        hmac.new(b"another secret of length", BODY, hashlib.sha256).hexdigest(),
        hmac.new(TRACKLY_SECRET.encode(), BODY, hashlib.sha1).hexdigest(),  # the wrong hash
        base64.b64encode(DIGEST[:16]).decode(),
        "sha256=" + "é" * 64,
    ],
)
def test_other_signatures_are_refused(header: str | None) -> None:
    assert not trackly_signature_matches(TRACKLY_SECRET, BODY, header)


def test_a_signature_of_another_body_is_refused() -> None:
    assert not trackly_signature_matches(TRACKLY_SECRET, BODY + b" ", DIGEST.hex())


def test_an_unset_or_short_secret_signs_nothing() -> None:
    empty_digest = hmac.new(b"", BODY, hashlib.sha256).hexdigest()
    assert not trackly_signature_matches("", BODY, empty_digest)
    short = "short"
    assert not trackly_signature_matches(
        short, BODY, hmac.new(short.encode(), BODY, hashlib.sha256).hexdigest()
    )


def test_either_secret_signs_while_rotating() -> None:
    new = "whsec_new_" + "n" * 30
    signed_by_new = hmac.new(new.encode(), BODY, hashlib.sha256).hexdigest()
    assert trackly_signed_by_any([TRACKLY_SECRET, new], BODY, signed_by_new)
    assert trackly_signed_by_any([TRACKLY_SECRET, new], BODY, DIGEST.hex())
    assert not trackly_signed_by_any([TRACKLY_SECRET], BODY, signed_by_new)


def test_token_in_the_path_or_the_query() -> None:
    assert tatango_token_from(TOKEN, "") == TOKEN
    assert tatango_token_from(None, f"token={TOKEN}&x=1") == TOKEN
    assert tatango_token_from("a%2Fb", "") == "a/b"
    assert tatango_token_from(None, "api_key=anything") is None
    assert not tatango_token_from(None, "token=")


def test_token_good_bad_missing() -> None:
    assert tatango_token_matches([TOKEN], TOKEN)
    assert not tatango_token_matches([TOKEN], TOKEN[:-1])
    assert not tatango_token_matches([TOKEN], TOKEN + "x")
    assert not tatango_token_matches([TOKEN], None)
    assert not tatango_token_matches([TOKEN], "")
    assert not tatango_token_matches([TOKEN], "ünïcode")


def test_an_unset_token_matches_nothing_not_even_an_empty_one() -> None:
    assert not tatango_token_matches([""], "")
    assert not tatango_token_matches(["short"], "short")


def test_the_previous_token_works_while_rotating() -> None:
    previous = "Previous" + "p" * 40
    assert tatango_token_matches([TOKEN, previous], previous)


class Spy:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []
        self.compare = hmac.compare_digest

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append((a, b))
        return self.compare(a, b)


def test_tokens_and_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy()
    monkeypatch.setattr(authentication.hmac, "compare_digest", spy)
    previous = "Previous" + "p" * 40

    assert tatango_token_matches([TOKEN, previous], TOKEN)
    assert trackly_signature_matches(TRACKLY_SECRET, BODY, DIGEST.hex())

    # Every stored token is compared (no early exit on the first match), then the digest.
    assert spy.calls == [
        (TOKEN.encode(), TOKEN.encode()),
        (previous.encode(), TOKEN.encode()),
        (DIGEST, DIGEST),
    ]
