"""The local emulation's webhooks: the simulators pointed at the local receiver, STOPs
texted at them, and their deliveries held back or awaited.

For the demo, the tests and ``optout-relay local``: ``register_webhooks`` does what an
operator does with ``optout-relay webhooks show`` (a Tatango webhook per list through
the simulator's API, Trackly's dashboard setting), with the local webhook secret.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from optout_relay.domain.targets import TargetsDocument

from optout_relay_dev.emulator import Emulator, EmulatorState


def webhook_secret(state: EmulatorState) -> dict[str, str]:
    """The local webhook secret's values (generated when the emulation started)."""
    value = state.client("secretsmanager").get_secret_value(SecretId=state.webhook_secret_arn)
    document = json.loads(value["SecretString"])
    return {str(key): str(item) for key, item in document.items()}


def lists_by_provider(document: TargetsDocument) -> dict[str, list[str]]:
    """Every list of the document, by provider, as the simulators key them."""
    lists: dict[str, list[str]] = {}
    for account in document.accounts:
        lists.setdefault(account.provider, []).extend(item.ref.value for item in account.lists)
    return lists


def register_webhooks(emulator: Emulator, lists: Mapping[str, Iterable[Any]]) -> None:
    """Point every simulator's unsubscribe webhooks for these lists at the local receiver."""
    state = emulator.state
    secret = webhook_secret(state)
    for provider, values in lists.items():
        emulator.simulators[provider].register_local_webhooks(state.webhook_url, secret, list(values))


@contextlib.contextmanager
def webhooks_held(emulator: Emulator) -> Iterator[None]:
    """No webhook leaves a simulator inside the block (they queue up), as when a relay
    records its answers before the providers' webhooks arrive."""
    for simulator in emulator.simulators.values():
        simulator.webhooks.hold()
    try:
        yield
    finally:
        for simulator in emulator.simulators.values():
            simulator.webhooks.release()


def deliver_webhooks(emulator: Emulator, timeout: float = 30.0) -> bool:
    """Every queued webhook delivered (or given up on), retries included."""
    return all(simulator.webhooks.wait_idle(timeout) for simulator in emulator.simulators.values())


def webhooks_pending(emulator: Emulator) -> int:
    return sum(simulator.webhooks.pending for simulator in emulator.simulators.values())


def relay_until_quiet(emulator: Emulator, drain_queue: Callable[[], object], max_rounds: int = 10) -> int:
    """Drain the queue with webhooks held (the relay records its answers first), then let
    the webhooks those answers caused arrive, and again while they publish anything new.
    Returns the rounds it took; raises if the loop does not settle (an echo loop)."""
    receiver = emulator.receiver
    assert receiver is not None, "the emulator is not running"
    for rounds in range(1, max_rounds + 1):
        with webhooks_held(emulator):
            drain_queue()
        published = len(receiver.published)
        if not deliver_webhooks(emulator):
            raise RuntimeError("the simulators' webhooks were not delivered in time")
        if len(receiver.published) == published:
            return rounds
    raise RuntimeError(f"webhooks kept publishing opt-outs after {max_rounds} rounds: an echo loop")
