"""The handler driven through a real (moto) SQS queue with the template's redrive policy,
a DynamoDB ledger, Secrets Manager and the provider simulators over loopback HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from optout_relay_dev.simulators.faults import Fault, FaultRates

from tests.integration.conftest import TATANGO_LIST, TRACKLY_LIST, RelayWorld

TRACKLY_PHONE = "+14155559876"
TATANGO_PHONE = "+12065551111"


def trackly_event(phone: str = TRACKLY_PHONE, **extra: object) -> dict[str, object]:
    return {"provider": "trackly", "phone_number": phone, "list_number": TRACKLY_LIST, **extra}


def tatango_event(phone: str = TATANGO_PHONE, **extra: object) -> dict[str, object]:
    return {"provider": "tatango", "phone_number": phone, "list_id": TATANGO_LIST, **extra}


def test_mixed_batch_every_outcome_recorded_or_dead_lettered(world: RelayWorld) -> None:
    world.trackly.subscribe(TRACKLY_LIST, TRACKLY_PHONE)
    world.tatango.subscribe(TATANGO_LIST, TATANGO_PHONE)
    ids = world.publish(
        trackly_event(event_id="e-trackly", source="stop-keyword", occurred_at="2026-11-20T10:00:00Z"),
        tatango_event(phone="(206) 555-1111", event_id="e-tatango"),
        tatango_event(phone="+12065550123", event_id="e-not-subscribed"),
        tatango_event(phone="+12065550124", event_id="e-unknown-list", list_id=999),
        {
            "provider": "trackly",
            "phone_number": "12",
            "list_number": TRACKLY_LIST,
            "event_id": "e-bad-phone",
        },
        "{not json",
    )
    result = world.mapping().poll_once()

    assert result.received == 6 and result.response == {"batchItemFailures": []}
    assert not world.trackly.is_subscribed(TRACKLY_LIST, TRACKLY_PHONE)
    assert not world.tatango.is_subscribed(TATANGO_LIST, TATANGO_PHONE)

    (trackly_item,) = world.ledger(TRACKLY_PHONE)
    assert trackly_item["status"] == "unsubscribed" and trackly_item["http_status"] == "200"
    assert trackly_item["target"] == f"trackly#{TRACKLY_LIST}#e-trackly"
    assert trackly_item["source"] == "stop-keyword" and trackly_item["attempts"] == "1"
    assert trackly_item["occurred_at"] == "2026-11-20T10:00:00Z" and trackly_item["processed_at"].endswith(
        "Z"
    )
    assert trackly_item["list_number"] == TRACKLY_LIST and "error_code" not in trackly_item

    (tatango_item,) = world.ledger(TATANGO_PHONE)
    assert (tatango_item["status"], tatango_item["list_id"]) == ("unsubscribed", str(TATANGO_LIST))
    assert world.ledger("+12065550123")[0]["status"] == "not_subscribed"
    unknown = world.ledger("+12065550124")[0]
    assert (unknown["status"], unknown["error_code"], unknown["http_status"]) == (
        "rejected",
        "list_not_found",
        "404",
    )

    dead = {letter["error_code"]: letter for letter in world.dead_letters()}
    assert set(dead) == {"list_not_found", "invalid_phone", "invalid_json"}
    assert dead["invalid_json"]["body"] == "{not json"
    assert dead["invalid_json"]["source_message_id"] == ids[5]
    assert (
        dead["invalid_phone"]["event_id"] == "e-bad-phone" and dead["invalid_phone"]["provider"] == "trackly"
    )
    assert "999" in dead["list_not_found"]["error_message"]
    assert json.loads(dead["list_not_found"]["body"])["list_id"] == 999
    # Invalid input never reached a provider.
    assert len(world.trackly.calls) == 1 and len(world.tatango.calls) == 3


def test_failing_message_is_dead_lettered_with_its_reason_on_the_last_receive(world: RelayWorld) -> None:
    world.trackly.faults.set_rates(FaultRates(server_error=1.0))
    world.publish(trackly_event(event_id="e-down"))
    batches = world.mapping().drain(max_batches=50)

    assert batches == world.stack.max_receive_count >= 5
    (item,) = world.ledger(TRACKLY_PHONE)
    assert item["status"] == "failed" and item["error_code"] == "provider_unavailable"
    assert int(item["attempts"]) == 3 * world.stack.max_receive_count
    (letter,) = world.dead_letters()
    assert json.loads(letter["body"])["event_id"] == "e-down"
    # By the function, with the reason, not by the redrive policy without one.
    assert letter["error_code"] == "provider_unavailable" and letter["source_receive_count"] == "5"


def test_transient_fault_is_retried_within_the_invocation(world: RelayWorld) -> None:
    world.tatango.subscribe(TATANGO_LIST, TATANGO_PHONE)
    world.tatango.script(Fault.rate_limited(retry_after="0"), Fault.server_error(503), Fault.drop())
    world.publish(tatango_event(event_id="e-flaky"))
    world.rewire(MAX_ATTEMPTS_PER_INVOCATION="4")
    result = world.mapping().poll_once()

    assert result.response == {"batchItemFailures": []}
    (item,) = world.ledger(TATANGO_PHONE)
    assert (item["status"], item["attempts"]) == ("unsubscribed", "4")
    assert not world.tatango.is_subscribed(TATANGO_LIST, TATANGO_PHONE)


def test_every_record_failing_returns_them_all_without_raising(world: RelayWorld) -> None:
    world.trackly.faults.set_rates(FaultRates(server_error=1.0))
    world.tatango.faults.set_rates(FaultRates(server_error=1.0))
    ids = world.publish(trackly_event(event_id="a"), tatango_event(event_id="b"))
    result = world.mapping().poll_once()
    assert sorted(result.failed_ids) == sorted(ids)
    assert {item["status"] for item in world.ledger(TRACKLY_PHONE) + world.ledger(TATANGO_PHONE)} == {
        "retrying"
    }


def test_redelivered_success_makes_no_second_provider_call(world: RelayWorld) -> None:
    world.trackly.subscribe(TRACKLY_LIST, TRACKLY_PHONE)
    world.publish(trackly_event(event_id="same"), trackly_event(event_id="same"))
    world.mapping(batch_size=1).drain()
    assert len(world.trackly.calls) == 1
    (item,) = world.ledger(TRACKLY_PHONE)
    assert (item["status"], item["attempts"]) == ("unsubscribed", "1")


def test_long_retry_after_defers_the_message_instead_of_sleeping(world: RelayWorld) -> None:
    world.trackly.script(Fault.rate_limited(retry_after="600"))
    (message_id,) = world.publish(trackly_event(event_id="e-slow-down"))
    result = world.mapping(redelivery_delay=None).poll_once()

    assert result.failed_ids == [message_id]
    assert len(world.trackly.calls) == 1  # not retried in-process
    attributes = world.sqs.get_queue_attributes(
        QueueUrl=world.stack.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert world.mapping(redelivery_delay=None).poll_once().received == 0  # still invisible
    (item,) = world.ledger(TRACKLY_PHONE)
    assert (item["status"], item["error_code"], item["http_status"]) == (
        "retrying",
        "rate_limited",
        "429",
    )


def test_rotated_key_is_picked_up_without_a_redeploy(world: RelayWorld) -> None:
    world.trackly.subscribe(TRACKLY_LIST, TRACKLY_PHONE)
    world.publish(trackly_event(event_id="warm"))
    world.mapping().poll_once()  # caches the current key
    new_key = "trk_" + "N" * 32
    world.session.client("secretsmanager").put_secret_value(
        SecretId=world.stack.secret_arns["trackly"], SecretString=json.dumps({"api_key": new_key})
    )
    world.trackly.rotate_key(new_key)
    world.trackly.subscribe(TRACKLY_LIST, TRACKLY_PHONE)
    world.publish(trackly_event(event_id="after-rotation"))
    assert world.mapping().poll_once().response == {"batchItemFailures": []}

    statuses = [call.status for call in world.trackly.calls]
    assert statuses == [200, 401, 200]
    item = next(i for i in world.ledger(TRACKLY_PHONE) if i["event_id"] == "after-rotation")
    assert (item["status"], item["attempts"]) == ("unsubscribed", "2")


def test_one_query_answers_what_happened_to_a_number_everywhere(world: RelayWorld) -> None:
    phone = "+12065551111"
    world.trackly.subscribe(TRACKLY_LIST, phone)
    world.tatango.subscribe(TATANGO_LIST, phone)
    world.publish(trackly_event(phone=phone, event_id="x"), tatango_event(phone=phone, event_id="y"))
    world.mapping().drain()
    assert sorted((i["provider"], i["status"]) for i in world.ledger(phone)) == [
        ("tatango", "unsubscribed"),
        ("trackly", "unsubscribed"),
    ]


def test_missing_settings_fail_clearly_at_start_up() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RESULTS_TABLE_NAME", "TATANGO_SECRET_ID")}
    env["TRACKLY_BASE_URL"] = "http://example.com"
    completed = subprocess.run(
        [sys.executable, "-c", "import optout_relay.handler"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode != 0
    log = json.loads(next(line for line in completed.stdout.splitlines() if line.startswith("{")))
    assert log["level"] == "ERROR"
    for expected in ("RESULTS_TABLE_NAME", "TATANGO_SECRET_ID", "TRACKLY_BASE_URL"):
        assert expected in log["message"]


def test_cold_start_does_not_import_the_tracing_sdk_when_tracing_is_off() -> None:
    code = "import sys, optout_relay.handler; print(sorted(m for m in sys.modules if 'xray' in m))"
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert completed.stdout.strip().splitlines()[-1] == "[]"


def _in_fresh_interpreter(code: str, env: dict[str, str]) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    return completed.stdout.strip().splitlines()[-1]


def test_init_freezes_what_it_built_and_leaves_the_collector_running() -> None:
    code = (
        "import gc, optout_relay.handler as h, optout_relay.aws.clients as c;"
        "print(gc.isenabled(), gc.get_freeze_count() > 10_000, sorted(c._client.cache_info()[3:]))"
    )
    assert _in_fresh_interpreter(code, dict(os.environ)) == "True True [2]"


def test_a_failed_init_does_not_leave_the_collector_paused() -> None:
    env = {k: v for k, v in os.environ.items() if k != "RESULTS_TABLE_NAME"}
    code = (
        "import gc\ntry:\n    import optout_relay.handler\nexcept Exception as e:\n"
        "    print(type(e).__name__, gc.isenabled())"
    )
    assert _in_fresh_interpreter(code, env) == "ConfigurationError True"


def test_a_record_without_sqs_attributes_is_handled_and_cannot_stop_its_batch(world: RelayWorld) -> None:
    """Lambda always sends the attributes; a hand-built event may not (the bench once did):
    neither the receive count nor the sent time may be assumed."""
    import optout_relay.handler as handler_module
    from optout_relay_dev.lambda_context import LocalLambdaContext

    world.trackly.subscribe(TRACKLY_LIST, TRACKLY_PHONE)
    record = {
        "messageId": "bare-1",
        "receiptHandle": "rh",
        "body": json.dumps(trackly_event(event_id="e-bare")),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
    }
    response = handler_module.lambda_handler({"Records": [record]}, LocalLambdaContext(timeout_seconds=60))
    assert response == {"batchItemFailures": []}
    (item,) = world.ledger(TRACKLY_PHONE)
    assert item["status"] == "unsubscribed" and item["received_at"].endswith("Z")


def test_receives_carried_by_a_fresh_copy_still_count_and_junk_counts_nothing(world: RelayWorld) -> None:
    world.trackly.faults.set_rates(FaultRates(server_error=1.0))
    for event_id, prior in (("e-copy", "4"), ("e-junk", "9" * 40), ("e-minus", "-3")):
        world.sqs.send_message(
            QueueUrl=world.stack.queue_url,
            MessageBody=json.dumps(trackly_event(event_id=event_id)),
            MessageAttributes={"optout_prior_receives": {"DataType": "String", "StringValue": prior}},
        )
    world.mapping().drain(max_batches=50)
    letters = {json.loads(letter["body"])["event_id"]: letter for letter in world.dead_letters()}
    assert set(letters) == {"e-copy", "e-junk", "e-minus"}
    # Four receives were used before this copy: its first receive is its fifth, and last.
    assert letters["e-copy"]["source_receive_count"] == "1"
    # A value the relay could not have written counts as none: five receives of its own.
    assert letters["e-junk"]["source_receive_count"] == letters["e-minus"]["source_receive_count"] == "5"
    assert {letter["error_code"] for letter in letters.values()} == {"provider_unavailable"}
