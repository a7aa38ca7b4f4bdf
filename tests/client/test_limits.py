"""The service's request budget, as the client shares it between polls and submits."""

from __future__ import annotations

import time

from chiltepin.client.limits import RateBudget, polls_crowd_submits


def test_the_budget_lets_through_its_requests_then_holds_the_next_back() -> None:
    budget = RateBudget(requests=3, window=0.5)
    started = time.monotonic()
    for _ in range(3):
        budget.acquire()
    assert budget.waited_s == 0  # the first three go at once
    budget.acquire()
    assert time.monotonic() - started >= 0.5  # the fourth waits for the window to slide
    assert budget.calls == 4 and budget.waited_s > 0


def test_status_polls_that_take_most_of_the_budget_are_named_with_a_poll_period_that_does_not() -> (
    None
):
    assert polls_crowd_submits(2, 5.0) is None  # the default: a fifth of the budget
    assert polls_crowd_submits(0, 0.1) is None  # local sites are not polled
    message = polls_crowd_submits(2, 1.0)
    assert message is not None and "100%" in message and "status_poll_s >= 2" in message
    assert polls_crowd_submits(2, 2.0) is None  # the period it suggests leaves half
    assert polls_crowd_submits(4, 3.0) is not None and polls_crowd_submits(4, 4.0) is None
