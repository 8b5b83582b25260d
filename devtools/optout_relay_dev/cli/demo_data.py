"""The demo's opt-outs and targets document: a realistic, seeded mix across every provider.

Every registered provider (``simulators.registry``) gets two accounts in the document,
its default one (named after the provider) and a brand account, each with a few lists,
some tagged with purposes; the brand account also lists a retired list the provider no
longer has. Events: numbers subscribed on one list (some at two providers), numbers
that are not, everywhere-events (some narrowed to a purpose), provider-scope events,
events naming their account, national formats such as "(206) 555-0123", SNS-wrapped
messages, duplicates, invalid numbers, numbers a provider does not serve, unknown lists,
a missing list and a body that is not JSON; and a few people who text STOP at a
provider (its webhook reaches the receiver, which publishes an everywhere-event). Numbers
are fictional (NANP 555-01XX).
Provider faults come on top (the simulators' fault rates).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from optout_relay.domain.phone import normalise_phone
from optout_relay.domain.provider_rules import FieldProblem
from optout_relay.providers.registry import CONTRACTS

from optout_relay_dev.simulators.registry import SIMULATORS

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
FOREIGN_NUMBERS = ("+442079460958", "+61291234567", "+4930123456")
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:optouts"
SECRET_PREFIX = "demo/accounts"  # noqa: S105 - a name prefix, not a secret
BRAND_SUFFIX = "-brand-b"
LISTS_PER_ACCOUNT = 3
PURPOSES_BY_POSITION = (("marketing",), ("informational",), ())  # a list's tags, by its place
NARROWING_PURPOSE = "marketing"
UNKNOWN_LIST_INDEX = 90  # a list reference no account lists and no provider has
RETIRED_LIST_INDEX = 91  # in the brand accounts' lists, but gone at the provider

# Kinds of event, with their share of the run.
KIND_WEIGHTS = {
    "subscribed": 44,
    "not_subscribed": 14,
    "both_providers": 6,  # the same number subscribed at two providers: two events
    "everywhere": 6,
    "provider_scope": 2,
    "named_account": 2,
    "duplicate": 6,
    "invalid_phone": 5,
    "unknown_list": 4,
    "unsupported_region": 3,
    "missing_list": 2,
}
FAN_OUT_KINDS = ("everywhere", "provider_scope")
SNS_SHARE = 0.12
NATIONAL_FORMAT_SHARE = 0.3
NO_EVENT_ID_SHARE = 0.1
PURPOSES_SHARE = 0.3  # fan-outs narrowed to NARROWING_PURPOSE


@dataclass(frozen=True)
class DemoList:
    provider: str
    account: str
    value: str | int  # as an event and the document carry it
    purposes: tuple[str, ...] = ()
    retired: bool = False

    @property
    def key(self) -> str:
        """The reference as the provider's contract normalises it (simulator state keys)."""
        return CONTRACTS[self.provider].parse_list_value(self.value, "US").value


@dataclass(frozen=True)
class DemoEvent:
    body: str
    kind: str
    provider: str | None
    sns_wrapped: bool = False
    national_format: bool = False


def demo_lists() -> list[DemoList]:
    """Two accounts per provider, ``LISTS_PER_ACCOUNT`` lists each (tagged by position),
    and one retired list in each brand account."""
    lists = []
    for name, simulator in SIMULATORS.items():
        for index, account in enumerate((name, f"{name}{BRAND_SUFFIX}")):
            for position in range(LISTS_PER_ACCOUNT):
                value = simulator.sample_list(index * LISTS_PER_ACCOUNT + position)
                lists.append(DemoList(name, account, value, PURPOSES_BY_POSITION[position]))
            if index:
                lists.append(DemoList(name, account, simulator.sample_list(RETIRED_LIST_INDEX), retired=True))
    return lists


def targets_document(lists: list[DemoList]) -> dict[str, Any]:
    """The document the demo applies (what a user would write in YAML)."""
    accounts: dict[str, dict[str, Any]] = {}
    for listed in lists:
        account = accounts.setdefault(
            listed.account,
            {
                "id": listed.account,
                "provider": listed.provider,
                "secret_id": f"{SECRET_PREFIX}/{listed.account}",
                "lists": [],
            },
        )
        entry: dict[str, Any] = {CONTRACTS[listed.provider].list_field: listed.value}
        if listed.purposes:
            entry["purposes"] = list(listed.purposes)
        account["lists"].append(entry)
    return {"accounts": list(accounts.values())}


@dataclass(frozen=True)
class TextedStop:
    """A person who replies STOP at one list (the provider's webhook tells the relay)."""

    provider: str
    list_key: str  # as the simulator keys it
    phone_number: str  # E.164


@dataclass
class Scenario:
    events: list[DemoEvent] = field(default_factory=list)
    lists: list[DemoList] = field(default_factory=demo_lists)
    texted_stops: list[TextedStop] = field(default_factory=list)
    # Simulator state (their ``load_state`` format): who is subscribed where.
    subscribed: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for listed in self.lists:
            if not listed.retired:  # a retired list does not exist at the provider
                self.subscribed.setdefault(listed.provider, {}).setdefault(listed.key, [])

    @property
    def subscriptions(self) -> dict[str, Any]:
        return {provider: {"lists": lists} for provider, lists in self.subscribed.items()}

    @property
    def targets_document(self) -> dict[str, Any]:
        return targets_document(self.lists)

    def subscribe(self, listed: DemoList, e164: str) -> None:
        self.subscribed.setdefault(listed.provider, {}).setdefault(listed.key, []).append(e164)

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


def _refuses(provider: str, number: str) -> bool:
    try:
        CONTRACTS[provider].check_phone(normalise_phone(number, "US"))
    except FieldProblem:
        return True
    return False


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.scenario = Scenario()
        self.providers = list(SIMULATORS)
        self.live = [listed for listed in self.scenario.lists if not listed.retired]
        self.phones = _phones(self.rng)
        self.serial = 0
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.sent_bodies: list[DemoEvent] = []

    def next_phone(self) -> tuple[str, str]:
        try:
            return next(self.phones)
        except StopIteration:
            raise ValueError(f"the demo has at most {len(AREA_CODES) * 100} distinct numbers") from None

    def lists_of(self, provider: str) -> list[DemoList]:
        return [listed for listed in self.live if listed.provider == provider]

    def document(self, phone: str, **fields: Any) -> dict[str, Any]:
        """An event: ``fields`` (scope, provider, list, ...) then phone, id, time, source."""
        self.serial += 1
        document: dict[str, Any] = {**fields, "phone_number": phone}
        if self.rng.random() >= NO_EVENT_ID_SHARE:  # else the SQS message id is the event id
            document["event_id"] = f"demo-{self.seed}-{self.serial:05d}"
        # Earlier today (UTC): `optout-relay report --from today --to today` shows the whole run.
        since_midnight = self.now.hour * 60 + self.now.minute
        moment = self.now - timedelta(minutes=self.rng.randint(0, min(6 * 60, since_midnight)))
        document["occurred_at"] = moment.isoformat().replace("+00:00", "Z")
        document["source"] = self.rng.choice(SOURCES)
        return document

    def one_list(self, listed: DemoList | None, provider: str, value: object = None) -> dict[str, Any]:
        field_name = CONTRACTS[provider].list_field
        return {"provider": provider, field_name: listed.value if listed else value}

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
        listed = self.rng.choice(self.lists_of(provider))
        self.scenario.subscribe(listed, f"+1{area}555{line}")
        self.add(kind, self.document(_formatted(area, line, self.rng), **self.one_list(listed, provider)))

    def fan_out(self, kind: str) -> None:
        """A number on one or two lists, opted out of every list of a scope."""
        area, line = self.next_phone()
        fields: dict[str, Any] = {"scope": "everywhere"}
        candidates = self.live
        if kind == "provider_scope":
            provider = self.rng.choice(self.providers)
            fields = {"scope": "provider", "provider": provider}
            candidates = self.lists_of(provider)
            if self.rng.random() < 0.3:
                fields["account"] = self.rng.choice(candidates).account
        if self.rng.random() < PURPOSES_SHARE:
            fields["purposes"] = [NARROWING_PURPOSE]
        for listed in self.rng.sample(candidates, k=min(len(candidates), self.rng.choice((1, 2)))):
            self.scenario.subscribe(listed, f"+1{area}555{line}")
        self.add(kind, self.document(_formatted(area, line, self.rng), **fields))

    def one(self, kind: str) -> None:
        rng = self.rng
        provider = rng.choice(self.providers)
        if kind in FAN_OUT_KINDS:
            self.fan_out(kind)
        elif kind == "both_providers" and len(self.providers) > 1:
            phone = self.next_phone()
            for name in rng.sample(self.providers, 2):
                self.subscribed(name, kind, phone)
        elif kind == "named_account":
            area, line = self.next_phone()
            listed = rng.choice(self.lists_of(provider))
            self.scenario.subscribe(listed, f"+1{area}555{line}")
            fields = {**self.one_list(listed, provider), "account": listed.account}
            self.add(kind, self.document(f"+1{area}555{line}", **fields))
        elif kind == "not_subscribed":
            area, line = self.next_phone()
            listed = rng.choice(self.lists_of(provider))
            self.add(kind, self.document(_formatted(area, line, rng), **self.one_list(listed, provider)))
        elif kind == "duplicate" and self.sent_bodies:
            earlier = rng.choice(self.sent_bodies)
            self.scenario.events.append(DemoEvent(earlier.body, kind, earlier.provider, earlier.sns_wrapped))
        elif kind == "invalid_phone":
            listed = rng.choice(self.lists_of(provider))
            self.add(kind, self.document(rng.choice(INVALID_NUMBERS), **self.one_list(listed, provider)))
        elif kind == "unknown_list":
            area, line = self.next_phone()
            unknown = SIMULATORS[provider].sample_list(UNKNOWN_LIST_INDEX)
            self.add(kind, self.document(f"+1{area}555{line}", **self.one_list(None, provider, unknown)))
        elif kind == "unsupported_region" and self.refusing():
            name, number = rng.choice(self.refusing())
            listed = rng.choice(self.lists_of(name))
            self.add(kind, self.document(number, **self.one_list(listed, name)))
        elif kind == "missing_list":
            area, line = self.next_phone()
            self.add(kind, self.document(f"+1{area}555{line}", provider=provider))
        else:
            self.subscribed(provider)

    def texted_stop(self) -> None:
        """A number on two or three lists, who replies STOP at the first of them."""
        area, line = self.next_phone()
        phone = f"+1{area}555{line}"
        chosen = self.rng.sample(self.live, k=self.rng.choice((2, 3)))
        for listed in chosen:
            self.scenario.subscribe(listed, phone)
        self.scenario.texted_stops.append(TextedStop(chosen[0].provider, chosen[0].key, phone))

    def refusing(self) -> list[tuple[str, str]]:
        """(provider, valid number it does not serve) pairs, from the providers' contracts."""
        return [(name, n) for name in self.providers for n in FOREIGN_NUMBERS if _refuses(name, n)]


def build_scenario(count: int, seed: int) -> Scenario:
    """Exactly ``count`` messages, seeded: the same seed, the same run."""
    if count < 1:
        raise ValueError("the demo needs at least one opt-out")
    builder = _Builder(seed)
    if count >= 20:
        # A producer bug: a truncated body; and at least one fan-out of each scope.
        builder.scenario.events.append(DemoEvent('{"phone_number": ', "invalid_json", None))
        for kind in FAN_OUT_KINDS:
            builder.fan_out(kind)
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
    for _ in range(texted_stops_for(count)):  # after the events: a seed's events stay the same
        builder.texted_stop()
    return builder.scenario


def texted_stops_for(count: int) -> int:
    """People who text STOP at a simulator during the run: one per 60 opt-outs, at least two."""
    return max(2, count // 60) if count >= 20 else 0
