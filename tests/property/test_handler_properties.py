"""Issue 9: no record can take down its batch.

Generated batches of 1 to 10 records (valid events, events the contract certainly rejects,
mutated and hostile ones) go through the real handler, with moto and the provider
simulators behind it, at receive counts up to the last one the redrive policy allows.
For every batch:

- the handler returns, with batch item failures that name records of the batch;
- every record is accounted for with a reason: given back, dead-lettered by the function
  (``error_code``, ``source_message_id``), or settled in the ledger; never two of these;
- no certainly-invalid body reaches a provider, and every valid one is relayed;
- nothing is given back on its last receive: it would reach the DLQ without a reason;
- no run of seven or more digits from a body shows in the logs or dead-letter attributes.

Cost: about 25 s on this 2-core machine when it passes (600 examples of about 40 ms, the
``ci`` profile in conftest.py); a failure is reported at once, unshrunk.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, note, settings

from .bodies import BodySpec, Kind, render
from .harness import BatchRun, Harness, Record
from .leaks import leaked, log_text, secrets_of
from .strategies import batches


@dataclass(frozen=True)
class Planned:
    spec: BodySpec
    record: Record
    phone: str  # the number planted in the body (E.164)

    @property
    def label(self) -> str:
        return f"{self.record.message_id} ({self.spec.kind.value}: {self.spec.why})"


def plan(harness: Harness, batch: list[tuple[BodySpec, int | None]]) -> list[Planned]:
    planned = []
    for spec, receive_count in batch:
        phone = harness.new_phone()
        if spec.kind is not Kind.INVALID:
            harness.subscribe(spec.provider, phone)
        count = harness.max_receive_count if receive_count is None else receive_count
        record = Record(harness.message_id(), render(spec, phone), count, spec.pinned_event_id)
        planned.append(Planned(spec, record, phone))
        note(f"{planned[-1].label}, receive {count}: {record.body[:400]!r}")
    return planned


# The world (moto, simulators, ledger) is shared by all examples on purpose: starting it
# costs about a second. Examples cannot see each other: every record has its own phone
# number and message id, the harness clears logs and recorded calls before each run and
# empties the DLQ and the ledger after it. How many examples, and why always the same
# ones: the profiles in conftest.py.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=batches)
def test_every_record_of_any_batch_is_accounted_for(
    harness: Harness, batch: list[tuple[BodySpec, int | None]]
) -> None:
    planned = plan(harness, batch)
    run = harness.run([item.record for item in planned])

    assert run.raised is None, f"the handler raised {run.raised!r}"
    ids = {item.record.message_id for item in planned}
    assert run.failed_ids <= ids, f"batch item failures name unknown records: {run.response}"
    assert_every_record_accounted_for(run, planned)
    assert_invalid_bodies_reach_no_provider(run, planned)
    assert_valid_events_relayed(harness, run, planned)
    assert_nothing_given_back_on_its_last_receive(harness, run, planned)
    assert_no_digit_run_leaks(run, planned)


def assert_every_record_accounted_for(run: BatchRun, planned: list[Planned]) -> None:
    unaccounted, twice = [], []
    for item in planned:
        message_id = item.record.message_id
        given_back = message_id in run.failed_ids
        letters = run.dead_letters.get(message_id, [])
        dead_lettered = run.dead_letter(message_id) is not None
        if given_back or dead_lettered:
            if (given_back and letters) or len(letters) > 1:
                twice.append(f"{item.label}: given back {given_back}, {len(letters)} dead letter(s)")
            continue
        if run.settled_item(message_id) is None:
            unaccounted.append(f"{item.label}: {letters or 'no dead letter'}")
    assert not unaccounted, f"records neither given back, dead-lettered nor settled: {unaccounted}"
    assert not twice, f"records dead-lettered and also given back or dead-lettered twice: {twice}"


def assert_invalid_bodies_reach_no_provider(run: BatchRun, planned: list[Planned]) -> None:
    allowed = {item.phone for item in planned if item.spec.kind is not Kind.INVALID}
    stray = [call for call in run.provider_calls if call.phone not in allowed]
    assert not stray, f"provider calls for numbers of no valid record: {stray}"
    assert run.simulator_calls == len(run.provider_calls), "calls reached a simulator unrecorded"


def assert_valid_events_relayed(harness: Harness, run: BatchRun, planned: list[Planned]) -> None:
    unrelayed = []
    for item in planned:
        if item.spec.kind is not Kind.VALID:
            continue
        settled = run.settled_item(item.record.message_id)
        if settled is None or harness.is_subscribed(item.spec.provider, item.phone):
            unrelayed.append(
                f"{item.label}: {settled}, dead letter {run.dead_letter(item.record.message_id)}"
            )
    assert not unrelayed, f"valid events (no faults injected) not relayed: {unrelayed}"


def assert_nothing_given_back_on_its_last_receive(
    harness: Harness, run: BatchRun, planned: list[Planned]
) -> None:
    last = [
        item.label
        for item in planned
        if item.record.receive_count >= harness.max_receive_count
        and item.record.message_id in run.failed_ids
        and run.dead_letter(item.record.message_id) is None
    ]
    assert not last, f"given back on the last receive, to reach the DLQ without a reason: {last}"


def assert_no_digit_run_leaks(run: BatchRun, planned: list[Planned]) -> None:
    secrets = set().union(*(secrets_of(item.record.body, item.phone) for item in planned))
    in_logs = leaked(secrets, log_text(run.logs))
    assert not in_logs, f"digit runs from bodies in the logs: {sorted(in_logs)}"
    in_attributes = leaked(secrets, run.dead_letter_attributes())
    assert not in_attributes, f"digit runs from bodies in dead-letter attributes: {sorted(in_attributes)}"
