"""Faults drawn per request: the same request gets the same fault whatever the arrival order."""

from __future__ import annotations

import random

from optout_relay_dev.simulators.faults import Fault, FaultInjector, FaultKind, FaultRates

RATES = FaultRates(rate_limited=0.1, server_error=0.1, slow=0.1, drop=0.1, slow_seconds=0.1)
REQUESTS = [f"DELETE /api/v2/lists/4242/subscribers/206555{n:04d}".encode() for n in range(40)]


def faults_by_request(arrivals: list[bytes], seed: int) -> dict[tuple[bytes, int], Fault | None]:
    """The fault each request got, keyed by the request and how often it had arrived."""
    injector = FaultInjector(RATES, seed=seed, per_request=True)
    seen: dict[bytes, int] = {}
    faults = {}
    for request in arrivals:
        seen[request] = seen.get(request, 0) + 1
        faults[request, seen[request]] = injector.next_fault(request)
    return faults


def test_each_request_gets_the_same_fault_whatever_order_requests_arrive_in() -> None:
    arrivals = REQUESTS * 3  # every request three times: a first call and two retries
    shuffled = arrivals.copy()
    random.Random(1).shuffle(shuffled)

    in_order = faults_by_request(arrivals, seed=7)

    assert faults_by_request(shuffled, seed=7) == in_order
    assert faults_by_request(arrivals, seed=8) != in_order
    kinds = {fault.kind if fault else None for fault in in_order.values()}
    assert kinds == {None, FaultKind.RATE_LIMITED, FaultKind.SERVER_ERROR, FaultKind.SLOW, FaultKind.DROP}


def test_a_retried_request_draws_again_rather_than_repeating_its_fault() -> None:
    injector = FaultInjector(FaultRates(server_error=0.5), seed=3, per_request=True)

    draws = [injector.next_fault(REQUESTS[0]) for _ in range(30)]

    assert None in draws
    assert any(fault is not None for fault in draws)


def test_scripted_faults_still_come_first() -> None:
    injector = FaultInjector(FaultRates(server_error=1.0), seed=3, per_request=True)
    injector.script(Fault.passthrough(), Fault.drop())

    draws = [injector.next_fault(REQUESTS[0]) for _ in range(3)]

    assert draws[:2] == [None, Fault.drop()]
    assert draws[2] is not None and draws[2].kind is FaultKind.SERVER_ERROR


def test_without_the_option_draws_follow_arrival_order_only() -> None:
    with_requests = FaultInjector(RATES, seed=5)
    without = FaultInjector(RATES, seed=5)

    assert [with_requests.next_fault(r) for r in REQUESTS] == [without.next_fault() for _ in REQUESTS]
