"""The demo's opt-outs: a realistic, seeded mix across both providers.

Numbers are fictional (NANP 555-01XX). The mix: numbers subscribed at a provider
(some at both), numbers that are not, national formats such as "(206) 555-0123",
SNS-wrapped messages, duplicates of an earlier event, invalid numbers, a Tatango list
that does not exist, non-US numbers for Tatango, a missing list, and a body that is not
JSON. Injected provider faults come on top (the simulators' fault rates).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

TRACKLY_LISTS = ("+18005550100", "+18885550123")
TATANGO_LISTS = (4242, 5151)
UNKNOWN_TATANGO_LIST = 9999
AREA_CODES = (
    "206",
    "425",
    "312",
    "415",
    "617",
    "303",
    "512",
    "646",
    "213",
    "702",
    "305",
    "971",
    "404",
    "503",
    "612",
    "713",
    "801",
    "919",
    "480",
    "615",
)
SOURCES = ("stop-keyword", "crm-export", "support-form", "preference-center")
INVALID_NUMBERS = ("555-0100", "+1 123 456 7890", "12345", "call me maybe", "+999 5550100", "(000) 555-0100")
NON_US_NUMBERS = ("+442079460958", "+61291234567", "+4930123456")
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:optouts"

# Kinds of event, with their share of the run.
KIND_WEIGHTS = {
    "subscribed": 50,
    "not_subscribed": 16,
    "both_providers": 8,  # the same number subscribed at both: two events
    "duplicate": 6,
    "invalid_phone": 6,
    "unknown_list": 5,
    "non_us_tatango": 3,
    "missing_list": 2,
}
SNS_SHARE = 0.12
NATIONAL_FORMAT_SHARE = 0.3
NO_EVENT_ID_SHARE = 0.1


@dataclass(frozen=True)
class DemoEvent:
    body: str
    kind: str
    provider: str | None
    sns_wrapped: bool = False
    national_format: bool = False


@dataclass
class Scenario:
    events: list[DemoEvent] = field(default_factory=list)
    # Simulator state (their ``load_state`` formats): who is subscribed where.
    trackly_lists: dict[str, list[str]] = field(default_factory=dict)
    tatango_lists: dict[str, list[str]] = field(default_factory=dict)

    @property
    def subscriptions(self) -> dict[str, Any]:
        return {"trackly": {"lists": self.trackly_lists}, "tatango": {"lists": self.tatango_lists}}

    def kinds(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event in self.events:
            counts[event.kind] = counts.get(event.kind, 0) + 1
        counts["sns_wrapped"] = sum(1 for event in self.events if event.sns_wrapped)
        counts["national_format"] = sum(1 for event in self.events if event.national_format)
        return counts


def _phones(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Unique fictional numbers: (area code, line) pairs, in a seeded order."""
    pairs = [(area, f"01{n:02d}") for area in AREA_CODES for n in range(100)]
    rng.shuffle(pairs)
    yield from pairs


def _formatted(area: str, line: str, rng: random.Random) -> str:
    if rng.random() >= NATIONAL_FORMAT_SHARE:
        return f"+1{area}555{line}"
    return rng.choice(
        (
            f"({area}) 555-{line}",
            f"{area}-555-{line}",
            f"{area}.555.{line}",
            f"1 {area} 555 {line}",
            f"{area}555{line}",
        )
    )


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.scenario = Scenario(
            trackly_lists={number: [] for number in TRACKLY_LISTS},
            tatango_lists={str(list_id): [] for list_id in TATANGO_LISTS},
        )
        self.phones = _phones(self.rng)
        self.serial = 0
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.sent_bodies: list[DemoEvent] = []

    def next_phone(self) -> tuple[str, str]:
        try:
            return next(self.phones)
        except StopIteration:
            raise ValueError(f"the demo has at most {len(AREA_CODES) * 100} distinct numbers") from None

    def document(self, provider: str, phone: str, list_value: str | int) -> dict[str, Any]:
        self.serial += 1
        document: dict[str, Any] = {"provider": provider, "phone_number": phone}
        document["list_number" if provider == "trackly" else "list_id"] = list_value
        if self.rng.random() >= NO_EVENT_ID_SHARE:  # else the SQS message id is the event id
            document["event_id"] = f"demo-{self.seed}-{self.serial:05d}"
        moment = self.now - timedelta(minutes=self.rng.randint(1, 60 * 24 * 3))
        document["occurred_at"] = moment.isoformat().replace("+00:00", "Z")
        document["source"] = self.rng.choice(SOURCES)
        return document

    def add(self, kind: str, document: dict[str, Any]) -> None:
        body = json.dumps(document)
        wrapped = self.rng.random() < SNS_SHARE
        if wrapped:
            body = json.dumps(
                {
                    "Type": "Notification",
                    "MessageId": str(uuid.UUID(int=self.rng.getrandbits(128))),
                    "TopicArn": TOPIC_ARN,
                    "Message": body,
                    "Timestamp": self.now.isoformat().replace("+00:00", "Z"),
                    "SignatureVersion": "1",
                }
            )
        national = not str(document.get("phone_number", "+")).startswith("+")
        event = DemoEvent(body, kind, document.get("provider"), wrapped, national and kind != "invalid_phone")
        self.scenario.events.append(event)
        if kind in ("subscribed", "both_providers") and "event_id" in document:
            self.sent_bodies.append(event)

    def subscribed(
        self, provider: str, kind: str = "subscribed", phone: tuple[str, str] | None = None
    ) -> None:
        area, line = phone or self.next_phone()
        if provider == "trackly":
            list_number = self.rng.choice(TRACKLY_LISTS)
            self.scenario.trackly_lists[list_number].append(f"+1{area}555{line}")
            self.add(kind, self.document("trackly", _formatted(area, line, self.rng), list_number))
        else:
            list_id = self.rng.choice(TATANGO_LISTS)
            self.scenario.tatango_lists[str(list_id)].append(f"{area}555{line}")
            self.add(kind, self.document("tatango", _formatted(area, line, self.rng), list_id))

    def one(self, kind: str) -> None:
        rng = self.rng
        provider = rng.choice(("trackly", "tatango"))
        if kind == "subscribed":
            self.subscribed(provider)
        elif kind == "both_providers":
            phone = self.next_phone()
            self.subscribed("trackly", kind, phone)
            self.subscribed("tatango", kind, phone)
        elif kind == "not_subscribed":
            area, line = self.next_phone()
            list_value = rng.choice(TRACKLY_LISTS) if provider == "trackly" else rng.choice(TATANGO_LISTS)
            self.add(kind, self.document(provider, _formatted(area, line, rng), list_value))
        elif kind == "duplicate" and self.sent_bodies:
            earlier = rng.choice(self.sent_bodies)
            self.scenario.events.append(DemoEvent(earlier.body, kind, earlier.provider, earlier.sns_wrapped))
        elif kind == "invalid_phone":
            list_value = rng.choice(TRACKLY_LISTS) if provider == "trackly" else rng.choice(TATANGO_LISTS)
            self.add(kind, self.document(provider, rng.choice(INVALID_NUMBERS), list_value))
        elif kind == "unknown_list":
            area, line = self.next_phone()
            self.add(kind, self.document("tatango", f"+1{area}555{line}", UNKNOWN_TATANGO_LIST))
        elif kind == "non_us_tatango":
            self.add(kind, self.document("tatango", rng.choice(NON_US_NUMBERS), rng.choice(TATANGO_LISTS)))
        elif kind == "missing_list":
            area, line = self.next_phone()
            document = self.document("trackly", f"+1{area}555{line}", TRACKLY_LISTS[0])
            del document["list_number"]
            self.add(kind, document)
        else:
            self.subscribed(provider)


def build_scenario(count: int, seed: int) -> Scenario:
    """About ``count`` messages (exactly ``count``), seeded: the same seed, the same run."""
    if count < 1:
        raise ValueError("the demo needs at least one opt-out")
    builder = _Builder(seed)
    if count >= 20:
        # A producer bug: a truncated body.
        builder.scenario.events.append(
            DemoEvent('{"provider": "trackly", "phone_number": ', "invalid_json", None)
        )
    kinds = list(KIND_WEIGHTS)
    weights = list(KIND_WEIGHTS.values())
    while len(builder.scenario.events) < count:
        kind = builder.rng.choices(kinds, weights)[0]
        if kind == "both_providers" and count - len(builder.scenario.events) < 2:
            kind = "subscribed"
        builder.one(kind)
    events = builder.scenario.events[:count]
    builder.rng.shuffle(events)
    builder.scenario.events = events
    return builder.scenario
