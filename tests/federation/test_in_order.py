"""How ``Federation.map`` hands results back: in order, on time, and without a thread
switch per result."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from pathlib import Path

import pytest

from chiltepin.federation.executor import GATHER_S, _in_order

Futures = list[concurrent.futures.Future[int]]


def futures(n: int) -> Futures:
    return [concurrent.futures.Future() for _ in range(n)]


def settle_later(pending: Futures, order: list[int], interval_s: float) -> threading.Thread:
    """Set ``pending[i]`` to ``i`` in ``order``, one every ``interval_s``, on a thread."""

    def run() -> None:
        for i in order:
            time.sleep(interval_s)
            pending[i].set_result(i)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def voluntary_switches() -> int:
    """Times this thread has given up the CPU of its own accord (Linux)."""
    status = Path(f"/proc/self/task/{threading.get_native_id()}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("voluntary_ctxt_switches"))
    return int(line.split()[1])


def test_results_come_in_input_order_whatever_order_they_finish_in() -> None:
    pending = futures(40)
    settle_later(pending, list(range(39, -1, -1)), 0.002)
    assert list(_in_order(pending, None)) == list(range(40))


def test_a_failed_task_raises_in_its_place() -> None:
    pending = futures(3)
    pending[0].set_result(0)
    pending[1].set_exception(ValueError("task 1 failed"))
    pending[2].set_result(2)
    results = _in_order(pending, None)
    assert next(results) == 0
    with pytest.raises(ValueError, match="task 1 failed"):
        next(results)


def test_a_result_is_not_held_back_waiting_for_the_ones_after_it() -> None:
    pending = futures(10)  # only the first ever finishes
    threading.Timer(0.1, pending[0].set_result, (0,)).start()
    started = time.monotonic()
    assert next(_in_order(pending, None)) == 0
    assert time.monotonic() - started < 0.1 + GATHER_S + 0.5


def test_the_deadline_ends_the_wait() -> None:
    pending = futures(5)
    pending[0].set_result(0)
    results = _in_order(pending, time.monotonic() + 0.3)
    assert next(results) == 0
    started = time.monotonic()
    with pytest.raises(concurrent.futures.TimeoutError):
        next(results)
    assert 0.2 < time.monotonic() - started < 1.0


def test_a_caught_up_consumer_is_not_woken_once_per_result() -> None:
    """Results trickling in one per millisecond: a consumer woken for each would switch
    about 600 times; gathering them, it wakes a few dozen times."""
    pending = futures(600)
    producer = settle_later(pending, list(range(600)), 0.001)
    before = voluntary_switches()
    assert list(_in_order(pending, None)) == list(range(600))
    switches = voluntary_switches() - before
    producer.join()
    assert switches < 150, f"the consumer gave up the CPU {switches} times for 600 results"
