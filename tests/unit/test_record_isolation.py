"""Issue 9 at the relay's level: one outcome per record whatever happens, no lost
confirmation, no call that cannot finish, nothing leaked, dead-lettering that cannot fail."""

from __future__ import annotations

import io
import json
from typing import Any

from optout_relay.domain.confirmation import Confirmation, carry
from optout_relay.domain.model import CallResult, Fate, InboundMessage, Status
from optout_relay.domain.retry import RetryPolicy
from optout_relay.errors import PermanentError, TransientError
from optout_relay.observability import OutcomeMetrics
from optout_relay.settings import Settings
from optout_relay.wiring import build_relay

from tests.conftest import TEST_ENV
from tests.fakes import ScriptedProvider
from tests.unit.test_relay import EVENT, KEY, World, unavailable

THROTTLED = TransientError("aws_throttled", "DynamoDB UpdateItem was throttled")


class Exploding(ScriptedProvider):
    def unsubscribe(self, *args: Any) -> CallResult:
        raise KeyError("+14155559876 was not expected")


def test_an_unexpected_exception_gives_the_record_back_before_its_last_receive() -> None:
    world = World()
    world.caller.clients = Exploding()
    outcome = world.handle(receive_count=4)
    assert (outcome.fate, outcome.reason) == (Fate.GIVE_BACK, "internal_error")
    assert world.dlq.sent == [] and world.count("InternalError", provider="unknown") == 1


def test_on_its_last_receive_an_unexpected_exception_is_dead_lettered_with_its_class(
    captured_logs: io.StringIO,
) -> None:
    world = World()
    world.caller.clients = Exploding()
    outcome = world.handle(receive_count=5)
    assert outcome.fate is Fate.DONE
    (letter,) = world.dlq.sent
    assert letter["error_code"] == "internal_error" and "KeyError" in letter["error_message"]
    logs = captured_logs.getvalue()
    assert "KeyError" in logs and "4155559876" not in logs  # the traceback is masked too


def test_a_confirmed_unsubscribe_survives_a_failing_ledger_by_travelling_with_a_copy() -> None:
    world = World(CallResult(Status.UNSUBSCRIBED, 200))
    world.ledger.failures = [THROTTLED] * 3
    outcome = world.handle()
    assert (outcome.fate, outcome.status) == (Fate.DONE, Status.UNSUBSCRIBED)
    assert world.ledger.items == {} and world.queue.requeued == [("msg-1", 2, "ev-1")]
    assert len(world.sleeps) == 2  # bounded retries of the write, then the copy
    (carried,) = world.queue.carried
    # The copy's delivery records the provider's answer and every call, without calling again.
    outcome = world.handle(receive_count=1, pinned_event_id="ev-1", carried_confirmation=carried)
    assert outcome.status is Status.UNSUBSCRIBED and len(world.provider.calls) == 1
    item = world.ledger.only()
    assert (item["status"], item["attempts"], item["http_status"]) == ("unsubscribed", 1, 200)
    assert world.count("ConfirmationCarried") == 1


def test_a_carried_unsubscribe_outranks_a_not_subscribed_written_meanwhile() -> None:
    world = World(CallResult(Status.NOT_SUBSCRIBED, 200))
    world.handle()  # a duplicate delivery, answered "not subscribed"
    carried = carry([Confirmation(KEY[1], CallResult(Status.UNSUBSCRIBED, 200), 1)])
    world.handle(carried_confirmation=carried, pinned_event_id="ev-1")
    item = world.ledger.only()
    assert (item["status"], item["attempts"]) == ("unsubscribed", 2)


def test_a_confirmation_for_another_target_is_ignored_and_the_provider_is_called() -> None:
    world = World(CallResult(Status.NOT_SUBSCRIBED, 200))
    forged = Confirmation("trackly#+18005550000#ev-1", CallResult(Status.UNSUBSCRIBED, 200), 1)
    outcome = world.handle(carried_confirmation=carry([forged]))
    assert outcome.status is Status.NOT_SUBSCRIBED and len(world.provider.calls) == 1


def test_when_the_copy_cannot_be_sent_either_the_record_goes_back_to_the_queue() -> None:
    world = World(CallResult(Status.UNSUBSCRIBED, 200))
    world.ledger.failures = [THROTTLED] * 3
    world.queue.failures = [TransientError("aws_throttled", "SQS SendMessage was throttled")]
    outcome = world.handle()
    assert (outcome.fate, outcome.reason) == (Fate.GIVE_BACK, "aws_throttled")


def test_a_write_retried_after_it_took_effect_is_not_counted_twice() -> None:
    world = World(CallResult(Status.NOT_SUBSCRIBED, 200))

    class TimesOutAfterWriting:
        def __init__(self) -> None:
            self.first = True

        def __call__(self, entry: Any) -> bool:
            written = original(entry)
            if self.first:
                self.first = False
                raise TransientError("aws_unavailable", "DynamoDB UpdateItem failed (ReadTimeoutError)")
            return written

    original = world.ledger.record
    world.ledger.record = TimesOutAfterWriting()  # type: ignore[method-assign]
    assert world.handle().status is Status.NOT_SUBSCRIBED
    item = world.ledger.only()
    assert (item["status"], item["attempts"]) == ("not_subscribed", 1)


def test_a_failing_batch_read_leaves_each_record_to_read_its_own_item() -> None:
    world = World(CallResult(Status.UNSUBSCRIBED, 200))
    world.ledger.read_failures = [RuntimeError("not even a TransientError")]
    message = InboundMessage("msg-1", json.dumps(EVENT), 1, "rh-1", "arn:aws:sqs:us-east-1:1:q")
    batch = world.relay.prepare([message])
    assert batch.statuses == {}
    assert world.relay.handle(message, lambda: 60.0, batch).status is Status.UNSUBSCRIBED


def test_a_dead_letter_queue_that_refuses_the_record_gives_it_back_or_re_enqueues_it_at_the_end() -> None:
    refused = TransientError("aws_error", "SQS SendMessage to the dead-letter queue failed")
    world = World(PermanentError("provider_rejected", "trackly answered 400", http_status=400))
    world.dlq.failures = [refused]
    outcome = world.handle(receive_count=2)
    assert (outcome.fate, outcome.reason) == (Fate.GIVE_BACK, "aws_error")
    # On the last receive the redrive policy must not take it without a reason: a fresh copy does.
    world = World(PermanentError("provider_rejected", "trackly answered 400", http_status=400))
    world.dlq.failures = [refused]
    outcome = world.handle(receive_count=5)
    assert outcome.fate is Fate.DONE and world.queue.requeued == [("msg-1", 2, "ev-1")]


def test_no_call_starts_that_cannot_finish_before_the_deadline() -> None:
    world = World(CallResult(Status.UNSUBSCRIBED, 200))
    world.caller.retry_policy = RetryPolicy(call_timeout=10.0)
    outcome = world.handle(remaining=11.0)  # 10 s call + 2 s kept back do not fit
    assert (outcome.fate, outcome.reason) == (Fate.DEFERRED, "out_of_time")
    assert world.provider.calls == [] and world.queue.deferred == [("msg-1", 1)]


def test_the_relay_wiring_builds_bounds_retries_by_the_provider_timeout() -> None:
    settings = Settings.from_env({**TEST_ENV, "PROVIDER_TIMEOUT_SECONDS": "10"})
    relay = build_relay(settings, OutcomeMetrics())
    world = World(unavailable(retry_after=1), CallResult(Status.UNSUBSCRIBED, 200))
    # The wired policy, with this world's fakes around it.
    world.caller.retry_policy = relay.caller.retry_policy
    outcome = world.handle(remaining=12.5)  # the first call fits; one a second later could not finish
    assert outcome.fate is Fate.GIVE_BACK and len(world.provider.calls) == 1


def test_an_unknown_provider_holding_a_phone_number_is_masked_everywhere(captured_logs: io.StringIO) -> None:
    world = World()
    swapped = {**EVENT, "provider": "+14155559876", "phone_number": "trackly", "event_id": "crm-14155559876"}
    world.handle(swapped)
    (letter,) = world.dlq.sent
    assert letter["error_code"] == "unknown_provider"
    assert "4155559876" not in letter["error_message"] + letter["event_id"] + captured_logs.getvalue()
    assert "***9876" in letter["error_message"]


def test_vanity_numbers_are_refused() -> None:
    world = World()
    world.handle({**EVENT, "phone_number": "415-CALL-NOW"})
    assert world.dlq.sent[0]["error_code"] == "invalid_phone" and world.provider.calls == []


def test_when_ledger_and_queue_both_fail_the_answer_waits_in_memory_for_the_redelivery() -> None:
    world = World(CallResult(Status.UNSUBSCRIBED, 200), CallResult(Status.NOT_SUBSCRIBED, 200))
    world.ledger.failures = [THROTTLED] * 3
    world.queue.failures = [TransientError("aws_throttled", "SQS SendMessage was throttled")]
    assert world.handle().fate is Fate.GIVE_BACK
    # SQS delivers it again to this execution environment: no second call, the first answer kept.
    outcome = world.handle(receive_count=2)
    assert outcome.status is Status.UNSUBSCRIBED and len(world.provider.calls) == 1
    assert world.ledger.only()["status"] == "unsubscribed"
