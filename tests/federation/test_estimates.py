"""The running estimates late binding places by, fed the way the federation feeds them."""

from __future__ import annotations

import random
from collections import deque

import pytest

from chiltepin.federation.capacity import workers_of_managers, workers_of_status
from chiltepin.federation.estimates import OVERLAP_WINDOW, Estimates, most_at_once


def test_most_at_once_counts_overlap_and_not_touching_ends() -> None:
    assert most_at_once([]) == 0
    assert most_at_once([(0, 2), (1, 3), (2, 4)]) == 2  # one ends as the next starts
    assert most_at_once([(0, 10), (1, 2), (1.5, 3), (2.5, 4)]) == 3


@pytest.mark.parametrize("seed", range(20))
def test_concurrency_counted_per_result_is_the_peak_of_every_window_counted_whole(
    seed: int,
) -> None:
    """Only the new interval's instants are counted per result; the figure must be what
    counting each window whole gives, ties, empty and inverted intervals included."""
    rng = random.Random(seed)
    estimates = Estimates(["a"])
    window: deque[tuple[float, float]] = deque(maxlen=OVERLAP_WINDOW)
    expected = 0
    now = 0.0
    for _ in range(400):
        now += rng.choice([0.0, 0.5, 1.0, rng.random()])
        inverted = [-3 * rng.random()] if seed % 2 else []  # a worker's clock stepped back
        length = rng.choice([0.0, 1.0, 2.0, 3 * rng.random(), *inverted])
        start = now - 2 * rng.random()  # results come back out of order
        end = start + length
        window.append((start, end))
        expected = max(expected, most_at_once(list(window)))
        estimates.ran("a", start, end)
        assert estimates["a"].concurrency == expected


class Clock:
    """The wall clock, moved only by the test."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_run_time_queue_wait_concurrency_and_failures_are_learned() -> None:
    clock = Clock()
    estimates = Estimates(["a", "b"], clock=clock)
    assert estimates.typical_run_s() is None and estimates.in_transit("a", 4) == 0
    asked = clock.now
    estimates.asked("a", was_idle=True)
    clock.now += 10
    estimates.asked("a", was_idle=True)  # still waiting: the clock keeps its start
    assert estimates.waiting_since("a") == asked
    clock.now = asked + 32
    estimates.ran("a", asked + 30, asked + 31)  # the first node came after 30 s
    estimates.ran("a", asked + 30.5, asked + 31.5)
    a = estimates["a"]
    assert a.queue_wait_s == 30.0 and a.run_s == 1.0 and a.concurrency == 2
    assert estimates.waiting_since("a") is None  # it started work
    estimates.ran("b", asked, asked + 3)
    assert estimates.typical_run_s() == 2.0
    estimates.failed("b")
    assert 0 < estimates["b"].failure_rate < 1
    snapshot = {e["site"]: e for e in estimates.snapshot()}
    assert snapshot["a"]["finished"] == 2 and snapshot["b"]["failures"] == 1


def test_live_workers_from_managers_and_from_an_endpoint_status() -> None:
    managers = [
        {"worker_count": 4, "active": True},
        {"worker_count": 4, "active": False},  # draining for its walltime
    ]
    assert workers_of_managers(managers) == 4
    assert workers_of_status({"total_workers": 6, "idle_workers": 2}) == 6
    assert workers_of_status({"heartbeat_period": 30}) is None  # a template-capable parent
    assert workers_of_status({"total_workers": True}) is None


def test_the_way_out_counts_in_the_round_trip_only_from_tasks_with_a_free_worker() -> None:
    """A window covers the round trip; its way out is sampled only from tasks released to a
    free worker (a task queued behind busy ones would count its wait too)."""
    clock = Clock()
    estimates = Estimates(["a"], clock=clock)
    now = clock.now
    estimates.ran("a", now - 1.2, now - 0.2)  # back in 0.2 s; way out not sampled yet
    assert abs(estimates["a"].round_trip_s - 0.4) < 1e-6
    assert 4 <= estimates.in_transit("a", 10) <= 5  # 10 workers x 0.4 s / 1 s, rounded up
    # released 5 s before it started: it queued behind busy workers, so no sample
    estimates.ran("a", now - 1.0, now - 0.2, released=None)
    assert estimates["a"].out_s is None
    # released 1.8 s before it started on a free worker: the service's limit held it back
    estimates.ran("a", now - 1.0, now - 0.2, released=now - 2.8)
    trip = estimates["a"].round_trip_s
    assert abs(estimates["a"].out_s - 1.8) < 1e-3 and 1.9 < trip < 2.1, trip
    assert estimates.in_transit("a", 10) > 20
    # a task may also wait on the client for the site's next (paced) request: covered too
    assert estimates.in_transit("a", 10, held_s=1.0) - estimates.in_transit("a", 10) in (9, 10, 11)
