"""What the soak needs from the simulators: an action at the n-th request, faults per request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import urllib3
from optout_relay_dev.simulators import FaultKind, FaultRates, TracklySimulator

OLD_KEY, NEW_KEY = "trk_old_" + "o" * 24, "trk_new_" + "n" * 24
LIST = "+18005551234"


@pytest.fixture
def http() -> Iterator[urllib3.PoolManager]:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=5.0))
    yield pool
    pool.clear()


def unsubscribe(http: urllib3.PoolManager, simulator: TracklySimulator, phone: str, key: str) -> int:
    body = json.dumps({"phone_number": phone, "list_number": LIST}).encode()
    url = f"{simulator.base_url}/api/v2/contacts"
    return http.request("DELETE", url, body=body, headers={"X-Api-Key": key}).status


def test_an_arrival_action_changes_what_that_request_and_later_ones_see(http: urllib3.PoolManager) -> None:
    with TracklySimulator([OLD_KEY]) as simulator:
        simulator.on_arrival(2, lambda: simulator.rotate_key(NEW_KEY))

        first = unsubscribe(http, simulator, "+12065550001", OLD_KEY)
        second = unsubscribe(http, simulator, "+12065550002", OLD_KEY)
        third = unsubscribe(http, simulator, "+12065550003", NEW_KEY)

        assert (first, second, third) == (200, 401, 200)
        assert simulator.arrivals == 3
        assert [call.auth_accepted for call in simulator.calls] == [True, False, True]
        assert json.loads(simulator.calls[0].body)["phone_number"] == "+12065550001"


def test_an_arrival_action_runs_once_and_only_on_its_own_request(http: urllib3.PoolManager) -> None:
    ran_on: list[str] = []
    with TracklySimulator([OLD_KEY]) as simulator:
        simulator.on_arrival(3, lambda: ran_on.append(threading.current_thread().name))

        for n in range(5):
            unsubscribe(http, simulator, f"+1206555000{n}", OLD_KEY)

        assert len(ran_on) == 1
        assert ran_on[0] != threading.current_thread().name  # a request thread, not the caller's
        with pytest.raises(ValueError, match="already arrived"):
            simulator.on_arrival(5, lambda: None)


def test_faults_per_request_follow_the_request_not_the_arrival_order(http: urllib3.PoolManager) -> None:
    rates = FaultRates(server_error=0.3, rate_limited=0.2)
    phones = [f"+1206555{n:04d}" for n in range(30)]

    def statuses(order: list[str]) -> dict[str, int]:
        with TracklySimulator([OLD_KEY], fault_rates=rates, seed=11, faults_per_request=True) as simulator:
            answers = {phone: unsubscribe(http, simulator, phone, OLD_KEY) for phone in order}
            assert {call.fault for call in simulator.calls} >= {FaultKind.SERVER_ERROR, None}
            return answers

    assert statuses(phones) == statuses(phones[::-1])
