"""The relay's decisions, with in-memory fakes of the ledger, DLQ, secrets and provider."""

from __future__ import annotations

import io
import json
import random
from typing import Any

from optout_relay.domain.batch import Planner
from optout_relay.domain.effects import Effects
from optout_relay.domain.model import CallResult, Fate, InboundMessage, RecordOutcome, Status
from optout_relay.domain.relay import Relay
from optout_relay.domain.retry import RetryPolicy
from optout_relay.domain.target_call import ProviderCaller
from optout_relay.domain.targets import FixedTargets, ProviderDefaults, default_document
from optout_relay.domain.targets_document import parse_targets_document
from optout_relay.errors import (
    CredentialsRejected,
    PermanentError,
    TransientError,
)
from optout_relay.observability import OutcomeMetrics

from tests.fakes import (
    FakeSecrets,
    InMemoryLedger,
    RecordingDeadLetters,
    RecordingSourceQueue,
    ScriptedProvider,
)

EVENT = {
    "provider": "trackly",
    "phone_number": "+14155559876",
    "list_number": "+18005551234",
    "event_id": "ev-1",
    "source": "crm",
    "occurred_at": "2026-11-20T10:00:00Z",
}
KEY = ("+14155559876", "trackly#+18005551234#ev-1")
SECRET_ID = "optout-relay/trackly"
API_KEY = "trk_" + "k" * 32


class World:
    """The relay with fakes for every port; ``document`` replaces the default targets
    document (one account per provider, no lists) when given."""

    def __init__(
        self,
        *answers: Any,
        max_receive_count: int = 5,
        max_attempts: int = 3,
        max_rps: float | None = None,
        document: dict[str, Any] | None = None,
    ) -> None:
        self.provider = ScriptedProvider(*answers)
        self.ledger = InMemoryLedger()
        self.dlq = RecordingDeadLetters()
        self.secrets = FakeSecrets({SECRET_ID: {"api_key": API_KEY}})
        self.queue = RecordingSourceQueue()
        self.sleeps: list[float] = []
        self.metrics = OutcomeMetrics()
        self.defaults = {
            "trackly": ProviderDefaults(self.provider, self.provider.default_base_url, max_rps, SECRET_ID)
        }
        targets = FixedTargets(default_document(self.defaults))
        if document is not None:
            targets = FixedTargets(parse_targets_document(document, version=1, defaults=self.defaults))
        self.caller = ProviderCaller(
            clients=self.provider,
            secrets=self.secrets,
            retry_policy=RetryPolicy(
                call_timeout=0.0, max_attempts=max_attempts, max_delay=30, rng=random.Random(1)
            ),
            metrics=self.metrics,
            sleep=self.sleeps.append,
        )
        self.relay = Relay(
            contracts={"trackly": self.provider},
            caller=self.caller,
            planner=Planner(targets, self.ledger),
            effects=Effects(
                ledger=self.ledger,
                dead_letters=self.dlq,
                source_queue=self.queue,
                max_receive_count=max_receive_count,
                sleep=self.sleeps.append,
            ),
            metrics=self.metrics,
        )

    def handle(
        self, body: Any = EVENT, receive_count: int = 1, remaining: float = 60.0, **message: Any
    ) -> RecordOutcome:
        text = body if isinstance(body, str) else json.dumps(body)
        inbound = InboundMessage("msg-1", text, receive_count, "rh-1", "arn:aws:sqs:us-east-1:1:q", **message)
        return self.relay.handle(inbound, lambda: remaining)

    def count(self, name: str, provider: str = "trackly") -> float:
        return self.metrics.counts.get((provider, name), 0)


def unavailable(retry_after: float | None = None) -> TransientError:
    return TransientError(
        "provider_unavailable", "trackly answered 503", http_status=503, retry_after=retry_after
    )


def test_unsubscribed_is_recorded_with_every_field() -> None:
    world = World(CallResult(Status.UNSUBSCRIBED, 200))
    assert world.handle().status is Status.UNSUBSCRIBED
    item = world.ledger.items[KEY]
    assert item["status"] == "unsubscribed"
    assert item["attempts"] == 1 and item["http_status"] == 200
    assert item["list_number"] == "+18005551234" and item["source"] == "crm"
    assert item["occurred_at"] == "2026-11-20T10:00:00Z" and item["error_code"] is None
    assert world.provider.calls == [("+14155559876", "+18005551234", API_KEY)]
    assert world.dlq.sent == [] and world.count("Unsubscribed") == 1


def test_not_subscribed_is_a_success() -> None:
    world = World(CallResult(Status.NOT_SUBSCRIBED, 200))
    assert world.handle().status is Status.NOT_SUBSCRIBED
    assert world.ledger.only()["status"] == "not_subscribed"
    assert world.count("NotSubscribed") == 1


def test_redelivery_of_a_settled_event_makes_no_second_call() -> None:
    world = World(CallResult(Status.UNSUBSCRIBED, 200))
    world.handle()
    assert world.handle().status is Status.UNSUBSCRIBED
    assert len(world.provider.calls) == 1
    assert world.ledger.only()["attempts"] == 1
    assert world.count("DuplicateSkipped") == 1


def test_a_new_event_for_the_same_number_is_a_new_opt_out() -> None:
    world = World(CallResult(Status.UNSUBSCRIBED, 200), CallResult(Status.NOT_SUBSCRIBED, 200))
    world.handle()
    world.handle({**EVENT, "event_id": "ev-2"})
    assert len(world.provider.calls) == 2 and len(world.ledger.items) == 2


def test_invalid_input_is_dead_lettered_without_a_provider_call() -> None:
    world = World()
    body = "{definitely not json"
    assert world.handle(body).status is Status.REJECTED
    assert world.provider.calls == [] and world.ledger.items == {}
    assert world.dlq.sent == [
        {
            "body": body,
            "error_code": "invalid_json",
            "error_message": world.dlq.sent[0]["error_message"],
            "event_id": "msg-1",
        }
    ]


def test_invalid_event_with_valid_phone_and_provider_is_recorded_as_rejected() -> None:
    world = World()
    body = {k: v for k, v in EVENT.items() if k != "list_number"}
    assert world.handle(body).status is Status.REJECTED
    item = world.ledger.only()
    assert item["status"] == "rejected" and item["error_code"] == "schema_violation"
    assert "list_number" in item["error_message"] and item["attempts"] == 0
    assert (
        world.dlq.sent[0]["error_code"] == "schema_violation" and world.dlq.sent[0]["provider"] == "trackly"
    )
    assert world.provider.calls == []


def test_invalid_phone_goes_to_the_dlq_only() -> None:
    world = World()
    world.handle({**EVENT, "phone_number": "555"})
    assert world.ledger.items == {} and world.dlq.sent[0]["error_code"] == "invalid_phone"
    assert world.count("Rejected") == 1 and world.count("DeadLettered") == 1


def test_provider_permanent_error_is_rejected_and_dead_lettered_without_retry() -> None:
    world = World(PermanentError("provider_rejected", "trackly answered 400: invalid_phone", http_status=400))
    assert world.handle().status is Status.REJECTED
    item = world.ledger.only()
    assert (item["status"], item["http_status"], item["attempts"]) == ("rejected", 400, 1)
    assert world.dlq.sent[0]["error_code"] == "provider_rejected"
    assert world.sleeps == [] and len(world.provider.calls) == 1


def test_transient_error_is_retried_in_the_invocation_then_succeeds() -> None:
    world = World(unavailable(), unavailable(), CallResult(Status.UNSUBSCRIBED, 200))
    assert world.handle().status is Status.UNSUBSCRIBED
    assert len(world.provider.calls) == 3 and len(world.sleeps) == 2
    item = world.ledger.only()
    assert item["attempts"] == 3 and item["status"] == "unsubscribed" and item["error_code"] is None


def test_transient_errors_exhausted_give_the_record_back_to_sqs() -> None:
    world = World(unavailable(), unavailable(), unavailable())
    assert world.handle(receive_count=1).fate is Fate.GIVE_BACK
    item = world.ledger.only()
    assert (item["status"], item["error_code"], item["http_status"], item["attempts"]) == (
        "retrying",
        "provider_unavailable",
        503,
        3,
    )
    assert world.dlq.sent == [] and world.count("Retried") == 1


def test_last_allowed_receive_marks_the_target_failed_and_dead_letters_it_with_the_reason() -> None:
    world = World(unavailable(), unavailable(), unavailable(), max_receive_count=5)
    outcome = world.handle(receive_count=5)
    assert (outcome.fate, outcome.status) == (Fate.DONE, Status.FAILED)
    assert world.ledger.only()["status"] == "failed"
    assert world.count("Failed") == 1
    # Dead-lettered by the function, never by the redrive policy without a reason.
    (letter,) = world.dlq.sent
    assert letter["error_code"] == "provider_unavailable" and letter["event_id"] == "ev-1"


def test_retry_after_within_the_cap_is_slept_on() -> None:
    world = World(unavailable(retry_after=4), CallResult(Status.UNSUBSCRIBED, 200))
    world.handle()
    assert world.sleeps == [4]


def test_retry_after_beyond_the_cap_defers_the_message_without_sleeping() -> None:
    world = World(TransientError("rate_limited", "429", http_status=429, retry_after=600))
    assert world.handle().fate is Fate.GIVE_BACK
    assert world.sleeps == [] and world.queue.deferred == [("msg-1", 600)]
    assert world.ledger.only()["status"] == "retrying"


def test_no_sleep_past_the_remaining_invocation_time() -> None:
    world = World(unavailable(retry_after=20))
    assert world.handle(remaining=15).fate is Fate.GIVE_BACK
    assert world.sleeps == [] and len(world.provider.calls) == 1


def test_rotated_key_is_fetched_again_once_after_a_401() -> None:
    world = World(
        CredentialsRejected("unauthorized", "401", http_status=401),
        CallResult(Status.UNSUBSCRIBED, 200),
    )
    world.secrets.rotated[SECRET_ID] = {"api_key": "rotated-key"}
    assert world.handle().status is Status.UNSUBSCRIBED
    assert world.secrets.fetches == [(SECRET_ID, False), (SECRET_ID, True)]
    assert [call[2] for call in world.provider.calls] == [API_KEY, "rotated-key"]
    assert world.ledger.only()["attempts"] == 2


def test_401_after_the_refetch_is_transient_and_not_hammered() -> None:
    world = World(*(CredentialsRejected("unauthorized", "401", http_status=401) for _ in range(5)))
    outcome = world.handle()
    assert outcome.fate is Fate.GIVE_BACK and outcome.reason == "unauthorized"
    assert len(world.provider.calls) == 2 and world.secrets.fetches.count((SECRET_ID, True)) == 1
    item = world.ledger.only()
    assert (item["status"], item["http_status"]) == ("retrying", 401)


def test_malformed_secret_is_transient_and_never_echoed() -> None:
    world = World()
    world.secrets.values[SECRET_ID] = {"apikey": "sekret-value-123"}
    outcome = world.handle()
    assert outcome.fate is Fate.GIVE_BACK and outcome.reason == "secret_malformed"
    assert "sekret-value-123" not in str(outcome) + str(world.ledger.items)
    assert world.provider.calls == []


def test_logs_mask_phone_numbers_and_never_show_keys(captured_logs: io.StringIO) -> None:
    world = World(
        unavailable(),
        CredentialsRejected("unauthorized", "401", http_status=401),
        CallResult(Status.UNSUBSCRIBED, 200),
    )
    world.handle()
    world.handle({k: v for k, v in EVENT.items() if k != "list_number"})
    logs = captured_logs.getvalue()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert lines, "expected structured JSON logs"
    assert "4155559876" not in logs and API_KEY not in logs
    assert any(line.get("phone") == "***9876" for line in lines)
