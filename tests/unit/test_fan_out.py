"""Opt out everywhere (issue 10): one opt-out, many targets, each with its own outcome.

The world's one scripted provider answers every account's calls in the order they are
made (the targets of a record run one after another here: no executor)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from optout_relay.domain.model import CallResult, Fate, InboundMessage, Status, target_id
from optout_relay.domain.targets import TargetsDocument
from optout_relay.domain.targets_document import parse_targets_document
from optout_relay.errors import PermanentError, TransientError

from tests.fakes import ScriptedBudget
from tests.unit.test_relay import API_KEY, World

PHONE = "+14155559876"
LISTS_A = ["+18005550001", "+18005550002", "+18005550003"]
LISTS_B = ["+18005550004", "+18005550005"]
DOCUMENT: dict[str, Any] = {
    "accounts": [
        {
            "id": "trackly-a",
            "provider": "trackly",
            "secret_id": "secret-a",
            "max_rps": "unlimited",
            "lists": [{"list_number": n, "purposes": ["marketing"]} for n in LISTS_A],
        },
        {
            "id": "trackly-b",
            "provider": "trackly",
            "secret_id": "secret-b",
            "max_rps": "1",
            "lists": [{"list_number": n} for n in LISTS_B],
        },
    ]
}
EVERYWHERE = {"scope": "everywhere", "phone_number": PHONE, "event_id": "stop-1"}


def unavailable() -> TransientError:
    return TransientError("provider_unavailable", "trackly answered 503", http_status=503)


@dataclass
class Versions:
    """A targets store holding several versions; ``in_force`` is the current one."""

    documents: dict[int, TargetsDocument]
    in_force: int
    asked: list[int | None] = field(default_factory=list)

    def current(self) -> TargetsDocument:
        self.asked.append(None)
        return self.documents[self.in_force]

    def version(self, number: int) -> TargetsDocument | None:
        self.asked.append(number)
        return self.documents.get(number)


def fan_out_world(*answers: Any, document: dict[str, Any] = DOCUMENT) -> tuple[World, ScriptedBudget]:
    world = World(*answers, document=document)
    world.secrets.values.update({"secret-a": {"api_key": "key-a"}, "secret-b": {"api_key": "key-b"}})
    budget = ScriptedBudget()
    world.caller.budget = budget
    return world, budget


def status_of(world: World, list_number: str, event_id: str = "stop-1") -> str:
    account = "trackly-a" if list_number in LISTS_A else "trackly-b"
    return str(world.ledger.items[(PHONE, f"{account}#{list_number}#{event_id}")]["status"])


def test_one_delivery_settles_each_target_on_its_own_and_the_redelivery_calls_only_the_rest() -> None:
    world, budget = fan_out_world(
        CallResult(Status.UNSUBSCRIBED, 200),  # a1
        CallResult(Status.NOT_SUBSCRIBED, 200),  # a2
        PermanentError("provider_rejected", "trackly answered 400", http_status=400),  # a3
        unavailable(),  # b4, three tries
        unavailable(),
        unavailable(),
    )
    budget.waits = [0.0, 0.0, 0.0, 2.0]  # trackly-b: b4's three calls, then no budget for b5
    outcome = world.handle(EVERYWHERE)

    assert (outcome.fate, outcome.reason) == (Fate.GIVE_BACK, "provider_unavailable")
    assert [status_of(world, n) for n in LISTS_A] == ["unsubscribed", "not_subscribed", "rejected"]
    assert status_of(world, LISTS_B[0]) == "retrying"
    assert (PHONE, f"trackly-b#{LISTS_B[1]}#stop-1") not in world.ledger.items  # deferred, not called
    (letter,) = world.dlq.sent
    assert letter["error_code"] == "provider_rejected" and letter["account"] == "trackly-a"
    assert letter["target_id"] == target_id(f"trackly-a#{LISTS_A[2]}") and "***0003" in letter["target"]
    # Each account its own secret and its own budget.
    assert {call[2] for call in world.provider.calls} == {"key-a", "key-b"}
    assert set(budget.taken) == {"trackly-b"}
    summary = world.ledger.summaries[(PHONE, "stop-1")]
    assert (summary.settled, len(summary.target_names), summary.document_version) == (3, 5, 1)

    calls_before = len(world.provider.calls)
    world.provider.answers = [CallResult(Status.UNSUBSCRIBED, 200), CallResult(Status.NOT_SUBSCRIBED, 200)]
    budget.waits = [0.0, 0.0]
    outcome = world.handle(EVERYWHERE, receive_count=2)
    assert outcome.fate is Fate.DONE
    assert [call[1] for call in world.provider.calls[calls_before:]] == LISTS_B  # only the unsettled
    assert [status_of(world, n) for n in LISTS_B] == ["unsubscribed", "not_subscribed"]
    assert len(world.dlq.sent) == 1  # the rejected target is final: not dead-lettered again
    summary = world.ledger.summaries[(PHONE, "stop-1")]
    assert summary.settled == 5 and summary.complete


def test_a_redriven_dead_letter_retries_exactly_its_target() -> None:
    world, _ = fan_out_world(
        CallResult(Status.UNSUBSCRIBED, 200),
        CallResult(Status.NOT_SUBSCRIBED, 200),
        PermanentError("provider_rejected", "trackly answered 400", http_status=400),
    )
    world.handle({**EVERYWHERE, "purposes": ["marketing"]})
    (letter,) = world.dlq.sent
    world.provider.answers = [CallResult(Status.UNSUBSCRIBED, 200)]
    calls_before = len(world.provider.calls)

    outcome = world.handle({**EVERYWHERE, "purposes": ["marketing"]}, redrive_target=letter["target_id"])
    assert outcome.fate is Fate.DONE
    assert [call[1] for call in world.provider.calls[calls_before:]] == [LISTS_A[2]]
    assert status_of(world, LISTS_A[2]) == "unsubscribed"


def test_purposes_narrow_an_everywhere_scope() -> None:
    world, _ = fan_out_world()
    world.handle({**EVERYWHERE, "purposes": ["Marketing"]})
    assert [call[1] for call in world.provider.calls] == LISTS_A


def test_a_provider_scope_with_an_account_reaches_that_account_only() -> None:
    world, _ = fan_out_world()
    world.handle({"scope": "provider", "provider": "trackly", "account": "trackly-b", "phone_number": PHONE})
    assert [call[1] for call in world.provider.calls] == LISTS_B


def test_two_deliveries_of_one_target_in_a_batch_make_one_call() -> None:
    world, _ = fan_out_world()
    body = json.dumps(
        {"provider": "trackly", "phone_number": PHONE, "list_number": LISTS_A[0], "event_id": "e"}
    )
    messages = [InboundMessage(f"m-{n}", body, 1, f"rh-{n}", "arn:aws:sqs:us-east-1:1:q") for n in (1, 2)]
    batch = world.relay.prepare(messages)
    outcomes = [world.relay.handle(message, lambda: 60.0, batch) for message in messages]
    assert [o.fate for o in outcomes] == [Fate.DONE, Fate.DONE]
    assert len(world.provider.calls) == 1
    assert world.ledger.only()["attempts"] == 1


def test_a_fan_out_keeps_the_document_version_it_started_with() -> None:
    world, _ = fan_out_world(
        CallResult(Status.UNSUBSCRIBED, 200), unavailable(), unavailable(), unavailable()
    )
    first = parse_targets_document(
        {"accounts": [{**DOCUMENT["accounts"][0], "lists": [{"list_number": n} for n in LISTS_A[:2]]}]},
        version=1,
        defaults=world.defaults,
    )
    second = parse_targets_document(DOCUMENT, version=2, defaults=world.defaults)
    store = Versions({1: first, 2: second}, in_force=1)
    world.relay.planner.targets = store
    assert world.handle(EVERYWHERE).fate is Fate.GIVE_BACK  # the second list failed

    store.in_force = 2  # an operator applies a new version between two deliveries
    world.provider.answers = [CallResult(Status.UNSUBSCRIBED, 200)]
    calls_before = len(world.provider.calls)
    assert world.handle(EVERYWHERE, receive_count=2).fate is Fate.DONE
    assert [call[1] for call in world.provider.calls[calls_before:]] == [LISTS_A[1]]
    assert store.asked[-1] == 1 and world.ledger.summaries[(PHONE, "stop-1")].document_version == 1


def test_an_everywhere_event_without_a_document_says_what_to_fix() -> None:
    world = World()
    outcome = world.handle(EVERYWHERE)
    assert outcome.fate is Fate.DONE and world.provider.calls == []
    (letter,) = world.dlq.sent
    assert letter["error_code"] == "no_targets_document" and "targets apply" in letter["error_message"]


def test_a_scope_that_selects_no_list_is_a_permanent_error_of_its_own() -> None:
    world, _ = fan_out_world()
    world.handle({**EVERYWHERE, "purposes": ["informational"]})
    (letter,) = world.dlq.sent
    assert letter["error_code"] == "no_matching_targets" and world.provider.calls == []


def test_scope_is_always_explicit() -> None:
    world, _ = fan_out_world()
    for body, code in [
        ({"provider": "trackly", "phone_number": PHONE}, "schema_violation"),  # no list, no scope
        ({**EVERYWHERE, "provider": "trackly"}, "schema_violation"),
        ({**EVERYWHERE, "scope": "somewhere"}, "schema_violation"),
        ({**EVERYWHERE, "purposes": "marketing"}, "schema_violation"),
        (
            {"provider": "trackly", "phone_number": PHONE, "list_number": LISTS_A[0], "purposes": ["x"]},
            "schema_violation",
        ),
    ]:
        world.dlq.sent.clear()
        world.handle(body)
        assert world.dlq.sent[0]["error_code"] == code, body
    assert world.provider.calls == []


def test_single_list_events_keep_their_ledger_key_and_default_account() -> None:
    world = World(CallResult(Status.UNSUBSCRIBED, 200))
    world.handle(
        {"provider": "trackly", "phone_number": PHONE, "list_number": "+18005551234", "event_id": "ev-1"}
    )
    assert world.ledger.only()["target"] == "trackly#+18005551234#ev-1"
    assert world.provider.calls == [(PHONE, "+18005551234", API_KEY)]
    assert world.ledger.summaries == {}  # a single target has no fan-out summary


def test_the_list_a_stop_landed_on_is_settled_by_the_webhook_not_called_again() -> None:
    world, _ = fan_out_world()
    origin = {"provider": "trackly", "list_number": LISTS_A[0], "webhook_id": "wh-1"}
    world.handle({**EVERYWHERE, "occurred_at": "2026-12-01T11:59:00Z", "origin": origin})
    assert LISTS_A[0] not in [call[1] for call in world.provider.calls]
    assert len(world.provider.calls) == len(LISTS_A) + len(LISTS_B) - 1
    item = world.ledger.items[(PHONE, f"trackly-a#{LISTS_A[0]}#stop-1")]
    assert (item["status"], item["attempts"], item["http_status"]) == ("unsubscribed", 0, None)


def test_a_webhook_echoing_the_relays_own_unsubscribe_is_recorded_not_fanned_out() -> None:
    world, _ = fan_out_world()
    world.handle(EVERYWHERE)  # our fan-out unsubscribes the number at every list...
    calls = len(world.provider.calls)
    # ...and the provider's webhook for one of those lists comes back as an everywhere-event.
    echo = {
        **EVERYWHERE,
        "event_id": "trackly-webhook-9",
        "occurred_at": "2026-12-01T12:00:05Z",
        "origin": {"provider": "trackly", "list_number": LISTS_B[1], "webhook_id": "wh-9"},
    }
    assert world.handle(echo).fate is Fate.DONE
    assert len(world.provider.calls) == calls  # not fanned out again
    assert world.ledger.echoes == [(PHONE, "trackly-webhook-9", "stop-1", f"trackly#{LISTS_B[1]}")]
    # The same person texting STOP again days later is a new opt-out.
    later = {**echo, "event_id": "trackly-webhook-10", "occurred_at": "2026-12-04T09:00:00Z"}
    world.handle(later)
    assert len(world.provider.calls) == calls + len(LISTS_A) + len(LISTS_B) - 1


def test_a_fan_outs_answers_are_written_together_and_a_refused_one_alone_is_tried_again() -> None:
    world, _ = fan_out_world(
        *[CallResult(Status.NOT_SUBSCRIBED, 200)] * 4, CallResult(Status.UNSUBSCRIBED, 200)
    )
    world.ledger.failures = [unavailable()]  # the first answer's first write is refused
    outcome = world.handle(EVERYWHERE)
    assert outcome.fate is Fate.DONE and outcome.status is Status.UNSUBSCRIBED
    # One submission for the five answers (one wait for the ledger, not five), then the
    # refused one again, alone.
    assert world.ledger.submissions == [5, 1]
    assert sorted(status_of(world, n) for n in LISTS_A + LISTS_B) == ["not_subscribed"] * 4 + ["unsubscribed"]


class LoggedSlots(threading.BoundedSemaphore):
    def __init__(self, log: list[str]) -> None:
        super().__init__(1)
        self.log = log

    def __enter__(self) -> bool:
        held = super().__enter__()
        self.log.append("slot")
        return held

    def __exit__(self, *exc: object) -> None:
        self.log.append("free")
        super().__exit__(*exc)


class LoggedBudget(ScriptedBudget):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def take(self, provider: str, rate_per_second: float, *, waited: bool = False) -> float:
        self.log.append("grant")
        return super().take(provider, rate_per_second, waited=waited)


def test_a_call_holds_its_slot_from_before_its_grant_so_no_wait_for_a_slot_follows_a_grant() -> None:
    world, _ = fan_out_world()
    log: list[str] = []
    world.caller.budget = LoggedBudget(log)
    world.caller.slots = LoggedSlots(log)
    provider_unsubscribe = world.provider.unsubscribe

    def logged_unsubscribe(*args: Any) -> CallResult:
        log.append("call")
        return provider_unsubscribe(*args)

    world.provider.unsubscribe = logged_unsubscribe  # type: ignore[method-assign]
    world.handle({**EVERYWHERE, "scope": "provider", "provider": "trackly", "account": "trackly-b"})
    assert log == ["slot", "grant", "call", "free"] * len(LISTS_B)
