"""What the webhook secret holds: ``{"tatango_token": ..., "trackly_signing_secret": ...}``.

While rotating, ``tatango_token_previous`` / ``trackly_signing_secret_previous`` are
accepted too (README, "Listening for STOPs"). A value shorter than 16 characters (the
stack's empty placeholder) authenticates nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TATANGO_TOKEN = "tatango_token"  # noqa: S105 - a key name
TRACKLY_SIGNING_SECRET = "trackly_signing_secret"  # noqa: S105 - a key name
SECRET_KEYS = (TATANGO_TOKEN, TRACKLY_SIGNING_SECRET)
PREVIOUS_SUFFIX = "_previous"


@dataclass(frozen=True)
class WebhookCredentials:
    tatango_tokens: tuple[str, ...]
    trackly_secrets: tuple[str, ...]

    @property
    def values(self) -> tuple[str, ...]:
        return (*self.tatango_tokens, *self.trackly_secrets)


def _strings(document: Mapping[str, Any], key: str) -> tuple[str, ...]:
    found = (document.get(key), document.get(key + PREVIOUS_SUFFIX))
    return tuple(value for value in found if isinstance(value, str) and value)


def credentials_from(document: Mapping[str, Any]) -> WebhookCredentials:
    return WebhookCredentials(
        tatango_tokens=_strings(document, TATANGO_TOKEN),
        trackly_secrets=_strings(document, TRACKLY_SIGNING_SECRET),
    )
