"""Who the local provider simulators should find subscribed: the targets of sample events
(events/*.json) and of files the user names, in the simulators' ``load_state`` format
(``{provider: {"lists": {list: [E.164 numbers]}}}``, the same for every simulator).

Only events that name one list subscribe anyone: a fan-out names no list."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from optout_relay.domain.model import InboundMessage
from optout_relay.domain.targets import TargetsDocument
from optout_relay.errors import InvalidEvent

from optout_relay_dev.cli.event_reading import ReadEvent, read_event
from optout_relay_dev.template import REPO_ROOT

SAMPLE_EVENTS_DIR = REPO_ROOT / "events"


def subscriptions_for(events: Iterable[ReadEvent]) -> dict[str, Any]:
    lists: dict[str, dict[str, list[str]]] = {}
    for event in events:
        if event.provider is not None and event.list_ref is not None:
            numbers = lists.setdefault(event.provider, {}).setdefault(event.list_ref.value, [])
            numbers.append(event.phone.e164)
    return {provider: {"lists": by_list} for provider, by_list in lists.items()}


def lists_of(document: TargetsDocument) -> dict[str, Any]:
    """Every list of a targets document, with no one subscribed: the sender's lists exist at
    its providers, so locally they exist at the simulators."""
    lists: dict[str, dict[str, list[str]]] = {}
    for account in document.accounts:
        for target_list in account.lists:
            lists.setdefault(account.provider, {}).setdefault(target_list.ref.value, [])
    return {provider: {"lists": by_list} for provider, by_list in lists.items()}


def events_in_bodies(bodies: Iterable[str], default_region: str = "US") -> list[ReadEvent]:
    """The valid events among these message bodies (the others are skipped)."""
    found = []
    for index, body in enumerate(bodies):
        try:
            found.append(read_event(InboundMessage(f"seed-{index}", body, 1), default_region))
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
    merged: dict[str, Any] = {}
    for document in documents:
        for provider, state in document.items():
            lists = merged.setdefault(provider, {"lists": {}})["lists"]
            for list_value, phones in state.get("lists", {}).items():
                lists.setdefault(list_value, []).extend(phones)
    return merged
