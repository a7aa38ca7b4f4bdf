"""The service's request budget, as the client shares it between polls and submits."""

from __future__ import annotations

import time

from chiltepin.client.limits import (
    REQUESTS_PER_WINDOW,
    WINDOW_SECONDS,
    RateBudget,
    SlidingWindow,
    polls_crowd_submits,
    submit_pace_s,
)


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


def test_paced_submits_and_polls_of_every_site_fit_the_budget_with_room_to_spare() -> None:
    assert submit_pace_s(0, 5.0) == 0.0  # local sites only: no budget to share
    for sites, poll_s in ((1, 5.0), (2, 5.0), (4, 10.0), (3, 2.0)):
        pace = submit_pace_s(sites, poll_s)
        per_window = sites * (WINDOW_SECONDS / pace + WINDOW_SECONDS / poll_s)
        assert per_window < REQUESTS_PER_WINDOW, (sites, poll_s, per_window)
    assert submit_pace_s(2, 5.0) > submit_pace_s(1, 5.0)  # more sites, each sends less often
    assert submit_pace_s(2, 10.0) < submit_pace_s(2, 5.0)  # fewer polls leave more for submits
    assert submit_pace_s(4, 1.0) <= 4 * WINDOW_SECONDS  # polls take it all: still bounded


def test_the_budget_is_pressed_once_half_its_window_is_spent_and_not_after_it_slides() -> None:
    budget = RateBudget(requests=4, window=0.5)
    budget.acquire()
    assert budget.in_use() == 1 and not budget.pressed
    budget.acquire()
    assert budget.pressed  # two of four: sites pace their submits from here
    time.sleep(0.6)
    assert budget.in_use() == 0 and not budget.pressed


def test_a_sliding_window_counts_what_it_lets_through_and_says_how_long_the_rest_waits() -> None:
    window = SlidingWindow(requests=2, window=10.0)
    assert window.take(0.0) is None and window.take(1.0) is None
    assert window.take(2.0) == 8.0  # full until the first request is 10 s old
    assert window.in_use(2.0) == 2  # a refused request is not counted
    assert window.take(10.0) is None  # the first slid out
    assert window.in_use(10.0) == 2 and window.take(10.5) == 0.5
