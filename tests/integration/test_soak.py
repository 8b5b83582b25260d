"""Soak: about 300 opt-outs through two function processes draining one queue, with about
30% provider faults and a key rotation at each provider while work is in flight.

What must hold at the end, and why exactly this:
- the queue is empty and the handler never raised; every message is in the ledger with a
  final status, or in the DLQ with an ``error_code``; a dead letter without one must be
  the redrive of an event the ledger calls ``failed``;
- the simulators' faults act before the provider logic (429 with Retry-After, 5xx, a
  dropped connection: nothing changes at the provider) or answer late (slow: 0.05 s, a
  tenth of ``PROVIDER_TIMEOUT_SECONDS``) and then do the work. So every confirmation a
  provider gives reaches the relay, and a number subscribed at the start must end
  unsubscribed at its provider AND ``unsubscribed`` in its event's ledger item (issue 9,
  item 2: the ledger shows the provider's confirmation). The one exception the relay
  cannot help: a call that timed out (the machine's load pushing a slow answer past the
  timeout) after which the retry found nothing to do; it is told apart by the ``timeout``
  the relay logged for that event;
- every ``unsubscribed`` item is a number the provider really took off that list, no
  bystander on the lists is touched, and ``attempts`` counts at least every call that
  reached the provider, for events no two invocations handled at once (README, Ledger:
  concurrent deliveries of one event may keep one delivery's count);
- no full phone number from a body reaches the logs or the dead letters' attributes.

Reproduce a failure with its seed: ``SOAK_SEED=<seed> .venv/bin/pytest tests/integration/test_soak.py``.
Faults are drawn per request (the n-th call for one number gets the same fault in every run
with that seed); how the two processes interleave is left to the machine. The main run takes
12-19 s on a busy 2-core machine; the issue-9 run about 17 s while it fails, a few once fixed.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from optout_relay_dev.simulators import RecordedCall

from tests.integration.soak_results import SoakRun
from tests.integration.soak_run import NEW_SECRETS, run_soak
from tests.integration.soak_workload import ANY_REASON, SMALL_WITH_ISSUE_9_BODIES, Event, Expect

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("SOAK_SEED", "9"))
FINAL = {"unsubscribed", "not_subscribed", "rejected", "failed"}
EXPECTED_STATUS = {
    Expect.UNSUBSCRIBED: "unsubscribed",
    Expect.NOT_SUBSCRIBED: "not_subscribed",
    Expect.LIST_NOT_FOUND: "rejected",
}
DIGIT_RUN = re.compile(r"\d{7,}")


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> SoakRun:
    return run_soak(SEED, tmp_path_factory.mktemp("soak"))


def test_both_processes_drained_the_queue_and_the_handler_never_raised(soak: SoakRun) -> None:
    idle = [f"worker {n} handled no record" for n, worker in enumerate(soak.workers) if not worker.records]
    assert_none(
        "the queue was not drained by both processes, or the handler raised", drain_problems(soak) + idle
    )


def test_every_message_ends_in_the_ledger_or_the_dead_letter_queue(soak: SoakRun) -> None:
    assert_none("messages not accounted for", unaccounted(soak))


def test_the_ledger_agrees_with_the_providers(soak: SoakRun) -> None:
    assert_none("ledger and providers disagree", disagreements(soak))


def test_attempts_count_every_call_that_reached_the_provider(soak: SoakRun) -> None:
    assert_none("attempts below the calls made", attempt_shortfalls(soak))


def test_each_provider_rotated_its_key_while_work_was_in_flight(soak: SoakRun) -> None:
    assert_none("the key rotation did not happen mid-run", rotation_problems(soak))


def test_nothing_unexpected_logged_and_no_number_leaked(soak: SoakRun) -> None:
    assert_none("unexpected errors or leaked numbers", log_problems(soak))


def test_a_soak_with_the_bodies_issue_9_found_keeps_every_promise(tmp_path: Path) -> None:
    run = run_soak(SEED, tmp_path, SMALL_WITH_ISSUE_9_BODIES)
    problems = [
        *drain_problems(run),
        *unaccounted(run),
        *disagreements(run),
        *attempt_shortfalls(run),
        *rotation_problems(run),
        *log_problems(run),
    ]
    assert_none("the issue-9 bodies broke a promise", problems)


def drain_problems(run: SoakRun) -> list[str]:
    problems = [f"{run.queue_left} messages left on the queue"] if run.queue_left else []
    problems += [f"a worker exited {w.returncode}: {w.stderr[-800:]}" for w in run.workers if w.returncode]
    raised = Counter(error for worker in run.workers for error in worker.function_errors)
    problems += [f"the handler raised {name} in {count} invocation(s)" for name, count in raised.items()]
    return problems


def unaccounted(run: SoakRun) -> list[str]:
    problems = []
    reasons = {letter.source_message_id: letter.error_code for letter in run.dead_letters}
    for message_id, event in run.published.items():
        if event.expect is Expect.INVALID:
            reason = reasons.get(message_id)
            if reason is None or event.dead_letter_code not in (reason, ANY_REASON):
                problems.append(f"{event.event_id}: dead letter {reason!r}, not {event.dead_letter_code!r}")
        elif run.status_of(event) not in FINAL:
            problems.append(f"{event.event_id} ({event.expect}): ledger {run.status_of(event)!r}")
    list_not_found = {letter.event_id for letter in run.dead_letters if letter.error_code == "list_not_found"}
    for event in run.events(Expect.LIST_NOT_FOUND):
        if event.event_id not in list_not_found:
            problems.append(f"{event.event_id}: no dead letter with error_code list_not_found")
    for letter in run.dead_letters:
        event = run.event_of(letter)
        if letter.error_code is None and (event is None or run.status_of(event) != "failed"):
            shown = event.event_id if event else repr(letter.body[:60])
            problems.append(f"a dead letter without error_code: {shown}, not a failed event")
    return problems


def disagreements(run: SoakRun) -> list[str]:
    problems = []
    for event in run.events(*EXPECTED_STATUS):
        status = run.status_of(event)
        if status != EXPECTED_STATUS[event.expect] and not confirmation_never_received(run, event):
            item = run.ledger.get(event.ledger_key, {})
            problems.append(
                f"{event.event_id} ({event.provider} {event.phone[-4:]}, {event.expect} at the start): "
                f"ledger {status!r}, attempts {item.get('attempts')}, receive_count "
                f"{item.get('receive_count')}, delivered concurrently {run.delivered_concurrently(event)}, "
                f"errors met {sorted(run.error_codes_logged(event))}, calls {describe(run.calls_for(event))}"
            )
        if event.expect is Expect.UNSUBSCRIBED and run.still_subscribed(
            event.provider, event.list_value, event.phone
        ):
            problems.append(f"{event.event_id}: still subscribed at {event.provider}")
    for (provider, list_value), phones in run.work.bystanders.items():
        for phone in phones:
            if not run.still_subscribed(provider, list_value, phone):
                problems.append(f"bystander {provider} {phone[-4:]} was unsubscribed")
    for (phone, target), item in run.ledger.items():
        provider, list_value, _ = target.split("#", 2)
        if item["status"] == "unsubscribed" and (
            phone not in run.work.subscribed.get((provider, list_value), set())
            or run.still_subscribed(provider, list_value, phone)
        ):
            problems.append(f"{target}: ledger unsubscribed, the provider did not unsubscribe {phone[-4:]}")
    return problems


def confirmation_never_received(run: SoakRun, event: Event) -> bool:
    """A call timed out after the provider acted, and the retry found nothing to do."""
    return (
        event.expect is Expect.UNSUBSCRIBED
        and run.status_of(event) == "not_subscribed"
        and "timeout" in run.error_codes_logged(event)
    )


def attempt_shortfalls(run: SoakRun) -> list[str]:
    problems = []
    for event in run.events(*EXPECTED_STATUS):
        item = run.ledger.get(event.ledger_key)
        if item is None or run.delivered_concurrently(event):
            continue  # no item: reported as unaccounted; concurrent: one delivery's count may stand
        calls = run.calls_for(event)
        if int(item["attempts"]) < max(1, len(calls)):
            problems.append(f"{event.event_id}: attempts {item['attempts']}, calls {describe(calls)}")
    return problems


def rotation_problems(run: SoakRun) -> list[str]:
    problems = []
    for name, simulator in (("trackly", run.trackly), ("tatango", run.tatango)):
        calls = sorted(simulator.calls, key=lambda call: call.at)
        refused = [call.at for call in calls if call.auth_accepted is False]
        if name not in run.rotated or not refused:
            problems.append(f"{name}: no key rotation, or no call refused the old key")
        elif not any(call.auth_accepted and call.at > refused[0] for call in calls):
            problems.append(f"{name}: no call accepted after the first refused one")
    if run.secrets != NEW_SECRETS:
        problems.append("the secrets do not hold the new keys")
    return problems


def log_problems(run: SoakRun) -> list[str]:
    lines = [line for worker in run.workers for line in worker.log_lines]
    problems = [json.dumps(line)[:300] for line in lines if line.get("level") in ("ERROR", "CRITICAL")]
    numbers = {found for body, _ in run.work.bodies for found in DIGIT_RUN.findall(body)}
    numbers |= {event.phone.removeprefix("+1") for event in run.work.events if event.phone}
    places = {
        "logs": "\n".join(json.dumps(line) for line in lines),
        "dead-letter attributes": "\n".join(json.dumps(letter.attributes) for letter in run.dead_letters),
    }
    leaks = {
        f"a number ending {number[-4:]} in the {where}"
        for where, text in places.items()
        for number in numbers
        if number in text
    }
    return problems + sorted(leaks)


def describe(calls: list[RecordedCall]) -> str:
    shown = [
        f"{call.status or 'dropped'}"
        + (f"/{call.fault}" if call.fault else "")
        + ("/old-key" if call.auth_accepted is False else "")
        for call in calls
    ]
    return ", ".join(shown) or "none"


def assert_none(what: str, problems: list[str]) -> None:
    listed = "\n  ".join(problems[:40]) + (f"\n  ... {len(problems) - 40} more" if len(problems) > 40 else "")
    assert not problems, f"{what} (SOAK_SEED={SEED}), {len(problems)}:\n  {listed}"
