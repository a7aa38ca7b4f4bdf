"""The running estimates late binding places by, fed the way the federation feeds them."""

from __future__ import annotations

import time

from chiltepin.federation.capacity import workers_of_managers, workers_of_status
from chiltepin.federation.estimates import Estimates, most_at_once


def test_most_at_once_counts_overlap_and_not_touching_ends() -> None:
    assert most_at_once([]) == 0
    assert most_at_once([(0, 2), (1, 3), (2, 4)]) == 2  # one ends as the next starts
    assert most_at_once([(0, 10), (1, 2), (1.5, 3), (2.5, 4)]) == 3


def test_run_time_queue_wait_concurrency_and_failures_are_learned() -> None:
    estimates = Estimates(["a", "b"])
    assert estimates.typical_run_s() is None and estimates.in_transit("a", 4) == 0
    asked = time.time()
    estimates.asked("a", was_idle=True)
    estimates.asked("a", was_idle=True)  # still waiting: the clock keeps its start
    estimates.ran("a", asked + 30, asked + 31)  # the first node came after 30 s
    estimates.ran("a", asked + 30.5, asked + 31.5)
    a = estimates["a"]
    assert 29 < a.queue_wait_s < 31 and a.run_s == 1.0 and a.concurrency == 2
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
