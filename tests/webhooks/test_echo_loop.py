"""The closed loop on loopback: a STOP at one provider becomes an opt-out everywhere, the
providers echo the relay's own unsubscribes back as webhooks, and the receiver does not
republish them. Two providers echo each other's fan-outs; the queue drains to empty with
one opt-out per STOP. moto server, both simulators, the receiver and the real relay
handler, all in this process."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import urllib3
from optout_relay_dev.cli.drain import drain
from optout_relay_dev.cli.ledger_view import query_phone
from optout_relay_dev.cli.runtime import local_function
from optout_relay_dev.cli.target import local_target
from optout_relay_dev.cli.targets import apply_document
from optout_relay_dev.cli.targets_access import parse_document
from optout_relay_dev.emulator import Emulator
from optout_relay_dev.local_webhooks import (
    deliver_webhooks,
    lists_by_provider,
    register_webhooks,
    relay_until_quiet,
    webhook_secret,
)
from rich.console import Console

TATANGO_LISTS = (4242, 4243)
TRACKLY_LISTS = ("+18005550100", "+18005550101")
ALICE = "+12065550111"  # texts STOP at Tatango
BOB = "+12065550122"  # texts STOP at Trackly
DOCUMENT = {
    "accounts": [
        {
            "id": "tatango",
            "provider": "tatango",
            "secret_id": "loop/accounts/tatango",
            "lists": [{"list_id": n} for n in TATANGO_LISTS],
        },
        {
            "id": "trackly",
            "provider": "trackly",
            "secret_id": "loop/accounts/trackly",
            "lists": [{"list_number": n} for n in TRACKLY_LISTS],
        },
    ]
}


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with Emulator(prefix=f"loop-{uuid.uuid4().hex[:8]}", receiver_log=io.StringIO()) as running:
        state = running.state
        document = parse_document(DOCUMENT, "US")
        apply_document(local_target(state), DOCUMENT, document, "US", quiet=True, verbose=False)
        for person in (ALICE, BOB):
            for list_id in TATANGO_LISTS:
                running.simulators["tatango"].subscribe(list_id, person)
            for list_number in TRACKLY_LISTS:
                running.simulators["trackly"].subscribe(list_number, person)
        register_webhooks(running, lists_by_provider(parse_document(DOCUMENT, "US", version=1)))
        yield running


def relay(emulator: Emulator, tmp_path: Path) -> int:
    state = emulator.state
    with local_function(state.function_environment, tmp_path / "relay-logs.jsonl") as handler:
        return relay_until_quiet(
            emulator,
            lambda: drain(state.client("sqs"), state.queue_url, handler, console=Console(file=io.StringIO())),
        )


def opt_outs(emulator: Emulator, phone: str) -> dict[str, set[str]]:
    """event_id -> the targets it settled as unsubscribed, for one number."""
    rows = query_phone(emulator.state.client("dynamodb"), emulator.state.table_name, phone)
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(str(row["event_id"]), set())
        if row.get("status") == "unsubscribed":
            found[str(row["event_id"])].add(str(row["target"]).rsplit("#", 1)[0])
    return found


def test_two_providers_echo_each_others_fan_out_and_the_loop_settles(
    emulator: Emulator, tmp_path: Path
) -> None:
    tatango, trackly = emulator.simulators["tatango"], emulator.simulators["trackly"]
    assert tatango.text_stop(TATANGO_LISTS[0], ALICE)
    assert trackly.text_stop(TRACKLY_LISTS[0], BOB)
    assert deliver_webhooks(emulator)

    rounds = relay(emulator, tmp_path)

    assert rounds == 1, "one drain: the STOPs' fan-outs; their echoes publish nothing new"
    assert emulator.receiver is not None
    counts = emulator.receiver.counts
    assert counts[("tatango", "WebhookPublished")] == 1 and counts[("trackly", "WebhookPublished")] == 1
    # Each fan-out unsubscribed three lists (the fourth, the STOP's own, was already out);
    # each of those three echoed a webhook: Alice's from one Tatango list and two Trackly
    # lists, Bob's from two Tatango lists and one Trackly list.
    assert counts[("tatango", "WebhookEcho")] + counts[("trackly", "WebhookEcho")] == 6
    assert [e["origin"]["provider"] for e in emulator.receiver.published] in (
        ["tatango", "trackly"],
        ["trackly", "tatango"],
    )
    for person in (ALICE, BOB):
        [(event_id, unsubscribed)] = opt_outs(emulator, person).items()  # one opt-out per STOP
        assert event_id.startswith(("tatango-opt-", "trackly-"))
        assert len(unsubscribed) >= 3
        for list_id in TATANGO_LISTS:
            assert not tatango.is_subscribed(list_id, person)
        for list_number in TRACKLY_LISTS:
            assert not trackly.is_subscribed(list_number, person)
    sqs = emulator.state.client("sqs")
    depth = sqs.get_queue_attributes(QueueUrl=emulator.state.queue_url, AttributeNames=["All"])["Attributes"]
    assert (
        int(depth["ApproximateNumberOfMessages"]) + int(depth["ApproximateNumberOfMessagesNotVisible"]) == 0
    )


def test_a_genuine_new_stop_later_is_honoured(emulator: Emulator, tmp_path: Path) -> None:
    tatango, trackly = emulator.simulators["tatango"], emulator.simulators["trackly"]
    tatango.text_stop(TATANGO_LISTS[0], ALICE)
    assert deliver_webhooks(emulator)
    relay(emulator, tmp_path)
    # An hour later Alice has joined a Trackly list again, and replies STOP there.
    trackly.subscribe(TRACKLY_LISTS[1], ALICE)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = json.dumps(
        {
            "event": "unsubscribe",
            "phone_number": ALICE,
            "list_number": TRACKLY_LISTS[1],
            "keyword": "STOP",
            "timestamp": later,
        }
    ).encode()
    secret = webhook_secret(emulator.state)["trackly_signing_secret"]
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    answer = urllib3.request(
        "POST",
        f"{emulator.state.webhook_url}/trackly",
        body=body,
        headers={"Content-Type": "application/json", "X-Trackly-Signature": signature},
    )
    assert json.loads(answer.data) == {"status": "published"}

    relay(emulator, tmp_path)

    assert len(opt_outs(emulator, ALICE)) == 2, "the first STOP and the genuine new one"
    # The list the new STOP landed on is settled by the provider's own report, not called
    # again (this hand-written webhook did not go through the simulator, so it still lists
    # Alice there); every other list was called.
    assert not trackly.is_subscribed(TRACKLY_LISTS[0], ALICE)


def test_without_the_receivers_echo_check_the_relay_still_holds_one_opt_out_per_stop(
    emulator: Emulator, tmp_path: Path
) -> None:
    # The receiver's check off: its echoes are published, and the relay's own check (same
    # number and list, unsubscribed by an event of ours within 15 minutes) records them as
    # echoes instead of fanning them out. Even a missed echo could not run away: its
    # fan-out finds every list already out, and "not subscribed" answers send no webhook.
    assert emulator.receiver is not None
    emulator.receiver.app.ledger = None
    emulator.simulators["tatango"].text_stop(TATANGO_LISTS[0], ALICE)
    assert deliver_webhooks(emulator)

    rounds = relay(emulator, tmp_path)

    assert rounds >= 1
    assert len(opt_outs(emulator, ALICE)) == 1, "the STOP; its echoes recorded, not fanned out"
