"""The rate budget's arithmetic, pure; ``aws/rate_budget.py`` shares it between environments.

A budget of ``calls`` per window has that many slots. Each slot holds the deadline of
the last call granted in it (the call is made by then), and a call is granted only in
a slot whose deadline has left the window: however many environments take at once,
no window ever holds more calls than there are slots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Added to every window: how long after its deadline a call may still reach the
# provider (the send itself and the network), so no window at the provider holds more.
ARRIVAL_MARGIN = 0.03
# A grant's deadline is this long after the clock read that decided it: the shared
# write must come back by then, or the call does not go under that deadline.
GRANT_LEAD = 0.05


@dataclass(frozen=True)
class Window:
    seconds: float
    calls: int


def window_for(rate_per_second: float) -> Window:
    """10/s -> 10 calls per 1 s; 1200/3600 -> 1 call per 3 s (each window plus the margin)."""
    seconds = max(1.0, 1.0 / rate_per_second)
    return Window(seconds + ARRIVAL_MARGIN, max(1, math.floor(rate_per_second * seconds + 1e-9)))


@dataclass(frozen=True)
class BudgetView:
    """The shared budget as an environment last saw it. Deadlines only ever move forward,
    so an old view can show a slot free that is not, but never the other way round."""

    deadlines: tuple[float, ...] = ()  # per slot; a slot not there yet is free
    next_turn: float = 0.0  # when the next record to queue for budget gets its turn
    penalty_factor: float = 1.0
    penalty_until: float = 0.0

    def window(self, now: float, rate_per_second: float) -> Window:
        factor = self.penalty_factor if now < self.penalty_until else 1.0
        return window_for(rate_per_second * factor)

    def deadline(self, slot: int) -> float:
        return self.deadlines[slot] if slot < len(self.deadlines) else 0.0


@dataclass(frozen=True)
class Claim:
    """Take ``slot`` if its deadline, and those of ``unused`` slots, are still at most
    ``free_up_to``; the call is made by ``deadline``."""

    slot: int
    deadline: float
    free_up_to: float
    unused: tuple[int, ...] = ()


@dataclass(frozen=True)
class Full:
    opening: float  # when the first slot leaves the window
    spacing: float  # the window shared out between its calls


def plan(view: BudgetView, now: float, rate_per_second: float, pick: int = 0) -> Claim | Full:
    """A free slot to claim (the ``pick``-th free one, wrapping round), or when one frees up."""
    window = view.window(now, rate_per_second)
    free_up_to = now - window.seconds
    spacing = window.seconds / window.calls
    # Under a penalty the slots beyond the smaller budget go unused, once their calls have
    # left the window: until then they count against it.
    unused = tuple(range(window.calls, window_for(rate_per_second).calls))
    draining = [view.deadline(slot) for slot in unused if view.deadline(slot) > free_up_to]
    if draining:
        return Full(max(draining) + window.seconds, spacing)
    deadlines = [view.deadline(slot) for slot in range(window.calls)]
    free = [slot for slot, deadline in enumerate(deadlines) if deadline <= free_up_to]
    if free:
        return Claim(free[pick % len(free)], now + GRANT_LEAD, free_up_to, unused)
    return Full(min(deadlines) + window.seconds, spacing)


def return_after(turn: float, now: float) -> int:
    """Whole seconds (SQS's unit) until a record should come back for its ``turn``: at least
    one, and never after the turn, because budget not taken when it frees can go unused."""
    return max(1, math.floor(turn - now))
