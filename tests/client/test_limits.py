"""The shared request budget: skippable requests (status polls) never take the half of it
that submits need."""

from __future__ import annotations

import time

from chiltepin.client.limits import RateBudget


def test_try_acquire_leaves_what_it_is_told_to_keep() -> None:
    budget = RateBudget(requests=10, window=60.0)
    taken = sum(budget.try_acquire(keep=5) for _ in range(10))
    assert taken == 5
    for _ in range(5):  # what was kept is there for calls that must go
        budget.acquire()
    assert budget.calls == 10 and budget.waited_s == 0.0
    assert not budget.try_acquire(keep=0)


def test_try_acquire_never_waits_and_recovers_with_the_window() -> None:
    budget = RateBudget(requests=2, window=0.2)
    budget.acquire()
    budget.acquire()
    started = time.monotonic()
    assert not budget.try_acquire(keep=0)
    assert time.monotonic() - started < 0.1  # refused at once, not after the window
    time.sleep(0.25)  # the window itself is what is under test here
    assert budget.try_acquire(keep=1)
