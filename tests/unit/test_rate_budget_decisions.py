"""What the relay does when a provider's fleet-wide rate budget is spent."""

from __future__ import annotations

import json

from optout_relay.domain.model import CallResult, Fate, InboundMessage, Status
from optout_relay.errors import CredentialsRejected, TransientError

from tests.fakes import ScriptedBudget
from tests.unit.test_relay import EVENT, SECRET_ID, World


def budgeted(*answers: object, waits: list[float]) -> tuple[World, ScriptedBudget]:
    world = World(*answers, max_rps=10.0)
    budget = ScriptedBudget(waits=list(waits))
    world.caller.budget = budget
    return world, budget


def test_no_budget_defers_without_a_call_or_an_error() -> None:
    world, _ = budgeted(waits=[2.3])
    assert world.handle().fate is Fate.DEFERRED
    assert world.provider.calls == [] and world.sleeps == []
    assert world.queue.deferred == [("msg-1", 3)]
    assert world.ledger.items == {}  # nothing happened yet, nothing to record
    assert world.count("Deferred") == 1
    assert world.count("Retried") == 0 and world.count("Failed") == 0


def test_budget_granted_calls_the_provider() -> None:
    world, budget = budgeted(CallResult(Status.UNSUBSCRIBED, 200), waits=[0.0])
    assert world.handle().status is Status.UNSUBSCRIBED
    assert budget.taken == ["trackly"]


def test_unlimited_provider_never_asks_for_budget() -> None:
    world = World(CallResult(Status.UNSUBSCRIBED, 200), max_rps=None)
    budget = ScriptedBudget(waits=[5.0])
    world.caller.budget = budget
    assert world.handle().status is Status.UNSUBSCRIBED
    assert budget.taken == []


def test_deferral_near_the_receive_limit_re_enqueues_a_fresh_copy() -> None:
    world, _ = budgeted(waits=[4.0])
    assert (
        world.handle(receive_count=4).status is Status.DEFERRED
    )  # maxReceiveCount 5: one more would be the last
    assert world.queue.requeued == [("msg-1", 4, "ev-1")]
    assert world.queue.deferred == []


def test_a_re_enqueued_copy_keeps_its_event_identity() -> None:
    world, _ = budgeted(CallResult(Status.UNSUBSCRIBED, 200), waits=[0.0])
    body = json.dumps({k: v for k, v in EVENT.items() if k != "event_id"})
    message = InboundMessage(
        "copy-id", body, 1, "rh", "arn:aws:sqs:us-east-1:1:q", pinned_event_id="original-id"
    )
    world.relay.handle(message, lambda: 60.0)
    assert world.ledger.only()["event_id"] == "original-id"


def test_fifo_messages_are_only_deferred_never_re_enqueued() -> None:
    world, _ = budgeted(waits=[4.0])
    message = InboundMessage("m", json.dumps(EVENT), 4, "rh", "arn:aws:sqs:us-east-1:1:q.fifo", "group")
    assert world.relay.handle(message, lambda: 60.0).fate is Fate.DEFERRED
    assert world.queue.requeued == [] and world.queue.deferred == [("m", 4)]


def test_a_429_shrinks_the_budget_for_a_while() -> None:
    limited = TransientError("rate_limited", "429", http_status=429, retry_after=120)
    world, budget = budgeted(limited, waits=[0.0])
    assert world.handle().fate is Fate.GIVE_BACK
    assert budget.shrunk == [("trackly", 0.5, 120)]


def test_budget_spent_after_a_failure_gives_the_record_back_as_that_failure() -> None:
    unavailable = TransientError("provider_unavailable", "503", http_status=503)
    world, _ = budgeted(unavailable, waits=[0.0, 1.5])
    outcome = world.handle()
    # A retry, counted by the receive limit, not a postponement that no limit counts.
    assert (outcome.fate, outcome.reason) == (Fate.GIVE_BACK, "provider_unavailable")
    assert world.queue.deferred == [("msg-1", 1.5)] and world.queue.requeued == []
    item = world.ledger.only()
    assert (item["status"], item["attempts"]) == ("retrying", 1)


def test_a_target_failing_on_every_delivery_reaches_its_dead_letter_despite_the_budget() -> None:
    """Each delivery: one call that times out, then no budget for its retry. Near the
    receive limit that must not become a fresh copy (a postponement would), or a provider
    that never answers would keep the record going round for ever."""
    timeout = TransientError("timeout", "tatango did not answer within 10 s")
    world, _ = budgeted(*[timeout] * 5, waits=[0.0, 3.0] * 5)
    fates = [world.handle(receive_count=receive).fate for receive in range(1, 6)]
    assert fates == [Fate.GIVE_BACK] * 4 + [Fate.DONE]
    assert world.queue.requeued == []
    assert len(world.provider.calls) == 5
    (dead_letter,) = world.dlq.sent
    assert dead_letter["error_code"] == "timeout"
    assert world.ledger.only()["status"] == "failed"


def test_a_first_delivery_queues_for_budget_and_a_record_that_waited_does_not() -> None:
    world, budget = budgeted(waits=[2.0, 1.0, 1.0])
    assert world.handle(receive_count=1).fate is Fate.DEFERRED
    assert world.handle(receive_count=2).fate is Fate.DEFERRED
    copy = InboundMessage(
        "copy", json.dumps(EVENT), 1, "rh", "arn:aws:sqs:us-east-1:1:q", pinned_event_id="ev-1"
    )
    assert world.relay.handle(copy, lambda: 60.0).fate is Fate.DEFERRED
    assert budget.waited == [False, True, True]


def test_credentials_are_ready_before_budget_is_taken() -> None:
    world, budget = budgeted(CallResult(Status.UNSUBSCRIBED, 200), waits=[0.0])
    fetched_before_take: list[int] = []
    take = budget.take

    def recording_take(provider: str, rate_per_second: float, *, waited: bool = False) -> float:
        fetched_before_take.append(len(world.secrets.fetches))
        return take(provider, rate_per_second, waited=waited)

    budget.take = recording_take  # type: ignore[method-assign]
    assert world.handle().status is Status.UNSUBSCRIBED
    assert fetched_before_take == [1]


def test_the_call_after_a_401_takes_budget_of_its_own_and_a_fresh_secret() -> None:
    world, budget = budgeted(
        CredentialsRejected("unauthorized", "401", http_status=401),
        CallResult(Status.UNSUBSCRIBED, 200),
        waits=[0.0, 0.0],
    )
    world.secrets.rotated[SECRET_ID] = {"api_key": "rotated-key"}
    assert world.handle().status is Status.UNSUBSCRIBED
    assert budget.taken == ["trackly", "trackly"]
    assert [refresh for _, refresh in world.secrets.fetches] == [False, True]
    assert [call[2] for call in world.provider.calls][-1] == "rotated-key"


def test_no_budget_for_the_call_after_a_401_defers_it_instead() -> None:
    world, budget = budgeted(CredentialsRejected("unauthorized", "401", http_status=401), waits=[0.0, 2.5])
    assert world.handle().fate is Fate.DEFERRED
    assert len(world.provider.calls) == 1 and budget.taken == ["trackly", "trackly"]


def test_a_target_that_fails_whenever_the_budget_lets_it_try_still_reaches_its_dead_letter() -> None:
    """Failure and postponement taking turns: the postponement at the receive limit makes a
    fresh copy, which keeps counting the receives of the target that had failed."""
    timeout = TransientError("timeout", "tatango did not answer within 10 s")
    world, _ = budgeted(timeout, timeout, waits=[0.0, 3.0, 3.0, 3.0, 3.0, 0.0, 3.0])
    assert world.handle(receive_count=1).fate is Fate.GIVE_BACK  # a call, then no budget: counted
    assert world.handle(receive_count=2).fate is Fate.DEFERRED  # no budget, no call
    assert world.handle(receive_count=3).fate is Fate.DEFERRED
    assert world.handle(receive_count=4).status is Status.DEFERRED  # a fresh copy takes its place
    assert world.queue.requeued == [("msg-1", 3, "ev-1")] and world.queue.prior_receives == [4]
    assert world.dlq.sent == []
    copy = world.handle(receive_count=1, pinned_event_id="ev-1", prior_receives=4)
    assert copy.fate is Fate.DONE  # its fifth receive: the target fails again and is dead-lettered
    (dead_letter,) = world.dlq.sent
    assert dead_letter["error_code"] == "timeout" and world.ledger.only()["status"] == "failed"


def test_a_postponed_target_that_never_failed_starts_its_copy_afresh() -> None:
    world, _ = budgeted(waits=[4.0])
    world.handle(receive_count=4)
    assert world.queue.prior_receives == [0]


def test_a_429_then_no_budget_is_waiting_not_a_failure() -> None:
    limited = TransientError("rate_limited", "429", http_status=429, retry_after=1)
    world, _ = budgeted(limited, waits=[0.0, 2.0])
    outcome = world.handle(receive_count=5)  # even on the last receive: nothing is dead-lettered
    assert outcome.status is Status.DEFERRED and world.dlq.sent == []
    assert world.count("Deferred") == 1 and world.count("Failed") == 0


def test_a_failure_then_no_budget_counts_as_a_retry_not_a_deferral() -> None:
    unavailable = TransientError("provider_unavailable", "503", http_status=503)
    world, _ = budgeted(unavailable, waits=[0.0, 2.0])
    world.handle()
    assert (world.count("Retried"), world.count("Deferred")) == (1, 0)


def test_a_copy_postponed_again_adds_up_its_receives() -> None:
    timeout = TransientError("timeout", "tatango did not answer within 10 s")
    world, _ = budgeted(timeout, waits=[0.0, 3.0, 3.0, 3.0])
    world.handle(receive_count=1)  # failed: the ledger says retrying
    world.handle(receive_count=4, pinned_event_id="ev-1", prior_receives=1)
    assert world.queue.prior_receives == [5]
    # A record whose target never failed keeps what it carried, and adds nothing.
    fresh, _ = budgeted(waits=[3.0])
    fresh.handle(receive_count=4, pinned_event_id="ev-1", prior_receives=2)
    assert fresh.queue.prior_receives == [2]
