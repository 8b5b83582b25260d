"""Targets documents for tests: a small one with every feature, and large ones."""

from __future__ import annotations

import random
from typing import Any

from optout_relay.domain.targets import ProviderDefaults
from optout_relay.providers.registry import CONTRACTS

# As ``Settings.provider_defaults`` would give them: the settings' base URLs and rates.
DEFAULTS = {
    "trackly": ProviderDefaults(CONTRACTS["trackly"], "https://app.tracklysms.com", None, "relay/trackly"),
    "tatango": ProviderDefaults(
        CONTRACTS["tatango"], "https://app.tatango.com", 1200 / 3600, "relay/tatango"
    ),
}


def sample_document() -> dict[str, Any]:
    """Two Tatango brands and one Trackly account; a fresh copy on every call."""
    return {
        "accounts": [
            {
                "id": "tatango-brand-a",
                "provider": "tatango",
                "secret_id": "relay/accounts/tatango-brand-a",
                "lists": [
                    {"list_id": 4242, "purposes": ["marketing"]},
                    {"list_id": "4243", "purposes": ["informational"]},
                ],
            },
            {
                "id": "tatango-brand-b",
                "provider": "tatango",
                "secret_id": "relay/accounts/tatango-brand-b",
                "base_url": "https://tatango.example.com/",
                "max_rps": "0.5",
                "lists": [{"list_id": 5000}],
            },
            {
                "id": "trackly",
                "provider": "trackly",
                "secret_id": "relay/trackly",
                "lists": [
                    {"list_number": "(800) 555-1234", "purposes": ["Marketing", "informational"]},
                    {"list_number": "+18005550000"},
                ],
            },
        ]
    }


def thousand_lists(count: int = 1_000, seed: int = 7) -> dict[str, Any]:
    """``count`` lists of random ids and numbers over two accounts of each provider."""
    rng = random.Random(seed)
    accounts: list[dict[str, Any]] = []
    per_account = count // 4
    seen: set[object] = set()
    for index in range(4):
        provider = "tatango" if index % 2 else "trackly"
        lists: list[dict[str, Any]] = []
        while len(lists) < per_account + (count % 4 if index == 3 else 0):
            value: object
            if provider == "tatango":
                value = rng.randint(1_000, 9_999_999)
            else:
                value = f"+1{rng.choice((206, 212, 312, 415, 503, 617))}{rng.randint(2_000_000, 9_999_999)}"
            if value in seen:
                continue
            seen.add(value)
            entry: dict[str, Any] = {"list_id" if provider == "tatango" else "list_number": value}
            if rng.random() < 0.8:
                entry["purposes"] = [rng.choice(("marketing", "informational", "alerts"))]
            lists.append(entry)
        accounts.append(
            {
                "id": f"{provider}-brand-{index}",
                "provider": provider,
                "secret_id": f"relay/accounts/{provider}-brand-{index}",
                "lists": lists,
            }
        )
    return {"accounts": accounts}
