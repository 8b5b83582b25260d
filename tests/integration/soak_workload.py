"""The soak's opt-outs: a seeded mix of events, and what each one must end as."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from enum import StrEnum

TRACKLY_LIST = "+18005551234"
TATANGO_LIST = "4242"
UNKNOWN_TATANGO_LIST = "9999"
# A dead letter with any error_code will do: bodies the contract cannot represent get codes
# of their own (issue 9, item 1), not named yet.
ANY_REASON = "*"
# Deeper than any JSON parser's recursion limit, and far below SQS's 256 KiB.
NESTING_DEPTH = 50_000


class Expect(StrEnum):
    UNSUBSCRIBED = "unsubscribed"  # subscribed at the start
    NOT_SUBSCRIBED = "not_subscribed"
    LIST_NOT_FOUND = "list_not_found"  # ledger `rejected` and a dead letter
    INVALID = "invalid"  # a dead letter with ``Event.dead_letter_code``


@dataclass(frozen=True)
class Mix:
    """How many events of each kind (the subscribed ones: per provider)."""

    subscribed: int = 100
    at_both: int = 50  # numbers subscribed at both providers, one event for each
    not_subscribed: int = 20
    unknown_list: int = 10
    bystanders: int = 10  # subscribed at each provider, never sent: must stay subscribed
    invalid_of_each_kind: int = 4
    issue_9_bodies: bool = False  # the bodies issue 9 found taking down a batch or leaking


FULL = Mix()
# Few events, with the issue-9 bodies: what a batch taken down costs its neighbours.
SMALL_WITH_ISSUE_9_BODIES = Mix(15, 5, 5, 2, 3, 1, issue_9_bodies=True)


@dataclass(frozen=True)
class Event:
    event_id: str
    provider: str
    phone: str  # E.164, as the ledger keys it
    list_value: str
    expect: Expect
    dead_letter_code: str | None = None

    @property
    def ledger_key(self) -> tuple[str, str]:
        return self.phone, f"{self.provider}#{self.list_value}#{self.event_id}"


@dataclass
class Workload:
    events: list[Event] = field(default_factory=list)
    bodies: list[tuple[str, Event]] = field(default_factory=list)  # one per message, copies included
    subscribed: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (provider, list) -> E.164
    bystanders: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def add(self, event: Event, body: str, *, copies: int = 1) -> None:
        self.events.append(event)
        self.bodies.extend([(body, event)] * copies)

    def messages_for(self, provider: str) -> int:
        return sum(1 for _, event in self.bodies if event.provider == provider)


def national(phone: str) -> str:
    digits = phone.removeprefix("+1")
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def build_workload(seed: int, mix: Mix = FULL) -> Workload:
    """The full mix is about 300 messages: 200 subscribed (50 numbers at both providers),
    40 not subscribed, 10 for an unknown Tatango list, 20 invalid, and about 35 duplicate
    copies of some events; shuffled."""
    rng = random.Random(seed)
    pool = iter(f"+1206555{n:04d}" for n in rng.sample(range(10_000), 1_000))

    def take(count: int) -> list[str]:
        return [next(pool) for _ in range(count)]

    trackly, tatango = ("trackly", TRACKLY_LIST), ("tatango", TATANGO_LIST)
    unknown = ("tatango", UNKNOWN_TATANGO_LIST)
    at_both = take(mix.at_both)
    subscribed = {trackly: at_both + take(mix.subscribed - mix.at_both)}
    subscribed[tatango] = at_both + take(mix.subscribed - mix.at_both)
    work = Workload(subscribed={key: set(phones) for key, phones in subscribed.items()})
    work.bystanders = {key: set(take(mix.bystanders)) for key in (trackly, tatango)}
    plan = [
        *((target, phone, Expect.UNSUBSCRIBED) for target, phones in subscribed.items() for phone in phones),
        *((trackly, phone, Expect.NOT_SUBSCRIBED) for phone in take(mix.not_subscribed)),
        *((tatango, phone, Expect.NOT_SUBSCRIBED) for phone in take(mix.not_subscribed)),
        *((unknown, phone, Expect.LIST_NOT_FOUND) for phone in take(mix.unknown_list)),
    ]
    for index, ((provider, list_value), phone, expect) in enumerate(plan):
        event = Event(f"soak-{seed}-{index:03d}", provider, phone, list_value, expect)
        copies = 1
        if expect is Expect.UNSUBSCRIBED and rng.random() < 0.08:
            copies = 3
        elif expect is Expect.NOT_SUBSCRIBED and rng.random() < 0.05:
            copies = 2
        work.add(event, _body(event, rng), copies=copies)
    invalid = _invalid_bodies(take(mix.invalid_of_each_kind))
    if mix.issue_9_bodies:
        invalid += _issue_9_bodies(take(2))
    for index, (code, body) in enumerate(invalid):
        event = Event(f"soak-{seed}-bad-{index:02d}", "", "", "", Expect.INVALID, dead_letter_code=code)
        work.add(event, body)
    rng.shuffle(work.bodies)
    return work


def _body(event: Event, rng: random.Random) -> str:
    document: dict[str, object] = {"provider": event.provider, "event_id": event.event_id}
    if event.provider == "trackly":
        document.update(phone_number=event.phone, list_number=event.list_value)
    else:
        formatted = national(event.phone) if rng.random() < 0.3 else event.phone
        document.update(phone_number=formatted, list_id=int(event.list_value))
    if rng.random() < 0.1:  # SNS to SQS without raw delivery
        notification = {"Type": "Notification", "MessageId": event.event_id, "Message": json.dumps(document)}
        return json.dumps(notification)
    return json.dumps(document)


def _invalid_bodies(phones: list[str]) -> list[tuple[str, str]]:
    """Five kinds, each body unique so that its dead letter can be told apart."""
    bodies: list[tuple[str, str]] = []
    for n, phone in enumerate(phones):
        bodies.append(("invalid_json", f'{{"provider": "trackly", "phone_number": "{phone}", "n": {n}'))
        bodies.append(("schema_violation", json.dumps({"provider": "trackly", "phone_number": phone})))
        short = {"provider": "trackly", "phone_number": phone[:-1], "list_number": TRACKLY_LIST, "n": n}
        bodies.append(("invalid_phone", json.dumps(short)))
        unknown = {"provider": "sendgrid", "phone_number": phone, "list_id": 4242}
        bodies.append(("unknown_provider", json.dumps(unknown)))
        abroad = {"provider": "tatango", "phone_number": f"+4479111234{n:02d}", "list_id": 4242}
        bodies.append(("unsupported_region", json.dumps(abroad)))
    return bodies


def _issue_9_bodies(phones: list[str]) -> list[tuple[str, str]]:
    """Too deep to parse, a date that cannot be converted to UTC, provider and phone swapped."""
    tatango = {"provider": "tatango", "phone_number": phones[0], "list_id": 4242}
    deep = json.dumps({**tatango, "extra": "@"}).replace('"@"', "[" * NESTING_DEPTH + "]" * NESTING_DEPTH)
    edge = json.dumps({**tatango, "occurred_at": "0001-01-01T00:00:00+01:00"})
    swapped = json.dumps({"provider": phones[1], "phone_number": "trackly", "list_number": TRACKLY_LIST})
    return [(ANY_REASON, deep), (ANY_REASON, edge), (ANY_REASON, swapped)]
