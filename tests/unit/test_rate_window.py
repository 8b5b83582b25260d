"""The rate budget's arithmetic: slots, the window and whole-second returns."""

from __future__ import annotations

import pytest
from optout_relay.domain.rate_window import (
    ARRIVAL_MARGIN,
    GRANT_LEAD,
    BudgetView,
    Claim,
    Full,
    Window,
    plan,
    return_after,
    window_for,
)

NOW = 1_000.0


def test_a_window_is_at_least_a_second_plus_the_arrival_margin() -> None:
    assert window_for(10) == Window(1 + ARRIVAL_MARGIN, 10)
    assert window_for(1200 / 3600) == Window(3 + ARRIVAL_MARGIN, 1)
    assert window_for(0.5) == Window(2 + ARRIVAL_MARGIN, 1)
    assert window_for(2.5) == Window(1 + ARRIVAL_MARGIN, 2)


def test_an_empty_budget_grants_the_first_slot_with_a_deadline() -> None:
    assert plan(BudgetView(), NOW, 10) == Claim(0, NOW + GRANT_LEAD, NOW - window_for(10).seconds)


def test_only_slots_whose_deadline_left_the_window_are_free() -> None:
    seconds = window_for(3).seconds
    view = BudgetView(deadlines=(NOW - 0.1, NOW - seconds, NOW - 0.2))
    assert [slot_planned(view, pick) for pick in range(3)] == [1, 1, 1]
    view = BudgetView(deadlines=(NOW - seconds - 1, NOW - 0.1))  # slot 2 not written yet
    assert [slot_planned(view, pick) for pick in range(3)] == [0, 2, 0]


def slot_planned(view: BudgetView, pick: int) -> int:
    decision = plan(view, NOW, 3, pick)
    assert isinstance(decision, Claim)
    return decision.slot


def test_a_full_budget_says_when_the_first_slot_frees_and_how_turns_are_spaced() -> None:
    view = BudgetView(deadlines=(NOW - 0.2, NOW - 0.5, NOW))
    seconds = window_for(3).seconds
    assert plan(view, NOW, 3) == Full(opening=NOW - 0.5 + seconds, spacing=pytest.approx(seconds / 3))


def test_slots_beyond_a_penalised_rate_are_not_used() -> None:
    view = BudgetView(deadlines=(NOW - 0.1,), penalty_factor=0.5, penalty_until=NOW + 60)
    assert isinstance(plan(view, NOW, 2), Full)  # 1 call per window while penalised
    assert isinstance(plan(view, NOW + 61, 2), Claim)  # slot 1 again once the penalty is over


def test_under_a_penalty_the_other_slots_drain_before_a_call_is_granted() -> None:
    seconds = window_for(5).seconds
    view = BudgetView(deadlines=(0.0,) * 7 + (NOW - 0.3,), penalty_factor=0.5, penalty_until=NOW + 60)
    assert plan(view, NOW, 10) == Full(opening=NOW - 0.3 + seconds, spacing=pytest.approx(seconds / 5))
    claim = plan(view, NOW + seconds, 10)
    assert isinstance(claim, Claim) and claim.slot < 5 and claim.unused == (5, 6, 7, 8, 9)


def test_a_record_comes_back_in_whole_seconds_never_after_its_turn() -> None:
    assert return_after(NOW + 3.08, NOW) == 3
    assert return_after(NOW + 1.99, NOW) == 1
    assert return_after(NOW + 0.2, NOW) == 1
    assert return_after(NOW - 5, NOW) == 1
