"""Who the local provider simulators should find subscribed: the targets of sample events
(events/*.json) and of files the user names, in the simulators' ``load_state`` format."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from optout_relay.domain.events import OptOutRequest, parse_optout
from optout_relay.domain.model import InboundMessage
from optout_relay.errors import InvalidEvent

from optout_relay_dev.cli.rows import validation_providers
from optout_relay_dev.template import REPO_ROOT

SAMPLE_EVENTS_DIR = REPO_ROOT / "events"


def subscriptions_for(optouts: Iterable[OptOutRequest]) -> dict[str, Any]:
    trackly: dict[str, list[str]] = {}
    tatango: dict[str, list[str]] = {}
    for optout in optouts:
        if optout.list_ref is None:  # a fan-out: its lists come from the targets document
            continue
        if optout.provider == "trackly":
            trackly.setdefault(optout.list_ref.value, []).append(optout.phone.e164)
        elif optout.provider == "tatango":
            tatango.setdefault(optout.list_ref.value, []).append(optout.phone.national_number)
    return {"trackly": {"lists": trackly}, "tatango": {"lists": tatango}}


def optouts_in_bodies(bodies: Iterable[str], default_region: str = "US") -> list[OptOutRequest]:
    """The valid opt-outs among these message bodies (the others are skipped)."""
    providers = validation_providers()
    found = []
    for index, body in enumerate(bodies):
        try:
            found.append(parse_optout(InboundMessage(f"seed-{index}", body, 1), providers, default_region))
        except InvalidEvent:
            continue
    return found


def record_bodies(event: Any) -> list[str]:
    """The message bodies of a Lambda SQS event."""
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        return []
    return [str(r["body"]) for r in event["Records"] if isinstance(r, dict) and "body" in r]


def sample_event_bodies(directory: Path = SAMPLE_EVENTS_DIR) -> list[str]:
    """Bodies of every sample SQS event shipped in events/ (none if there is no such folder)."""
    bodies: list[str] = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            bodies.extend(record_bodies(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return bodies


def merge(*documents: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {"trackly": {"lists": {}}, "tatango": {"lists": {}}}
    for document in documents:
        for provider in ("trackly", "tatango"):
            for list_value, phones in document.get(provider, {}).get("lists", {}).items():
                merged[provider]["lists"].setdefault(list_value, []).extend(phones)
    return merged
