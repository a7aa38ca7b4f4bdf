"""How ``Federation.map`` hands results back: in order, as they arrive, and no longer
than the deadline allows.

How seldom a caught-up consumer is woken (the point of gathering results) depends on the
scheduler; ``benchmarks/bench_wakeups.py`` measures it against a one-by-one consumer.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chiltepin.federation.streams import in_order

Futures = list[concurrent.futures.Future[int]]

#: Generous: only a hang (a consumer waiting for results that never come) reaches it.
HANG_S = 30


def futures(n: int) -> Futures:
    return [concurrent.futures.Future() for _ in range(n)]


def settle(pending: Futures, order: list[int]) -> threading.Thread:
    """Set ``pending[i]`` to ``i`` in ``order``, on a thread of its own."""

    def run() -> None:
        for i in order:
            pending[i].set_result(i)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def next_in_thread(results: Iterator[Any]) -> concurrent.futures.Future[Any]:
    """``next(results)`` on a daemon thread: a consumer that hangs fails the test (after
    ``HANG_S``) instead of hanging it."""
    outcome: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def run() -> None:
        try:
            outcome.set_result(next(results))
        except BaseException as err:
            outcome.set_exception(err)

    threading.Thread(target=run, daemon=True).start()
    return outcome


def test_results_come_in_input_order_whatever_order_they_finish_in() -> None:
    pending = futures(200)
    for i in range(0, 200, 7):  # some finished before the consumer starts
        pending[i].set_result(i)
    producer = settle(pending, [i for i in range(199, -1, -1) if i % 7])
    assert list(in_order(pending, time.monotonic() + HANG_S)) == list(range(200))
    producer.join()


def test_a_failed_task_raises_in_its_place() -> None:
    pending = futures(3)
    pending[0].set_result(0)
    pending[1].set_exception(ValueError("task 1 failed"))
    pending[2].set_result(2)
    results = in_order(pending, None)
    assert next(results) == 0
    with pytest.raises(ValueError, match="task 1 failed"):
        next(results)


class Watched(concurrent.futures.Future[int]):
    """A future that tells when a consumer found it not done yet (and so will wait)."""

    def __init__(self) -> None:
        super().__init__()
        self.found_pending = threading.Event()

    def done(self) -> bool:
        finished = super().done()
        if not finished:
            self.found_pending.set()
        return finished


def test_a_result_is_not_held_back_waiting_for_the_ones_after_it() -> None:
    first = Watched()
    pending = [first, *futures(9)]  # only the first ever finishes: waiting for the rest hangs
    got = next_in_thread(in_order(pending, None))
    assert first.found_pending.wait(HANG_S)  # the consumer is waiting for it ...
    first.set_result(0)
    assert got.result(timeout=HANG_S) == 0  # ... and gets it without the rest


def test_the_deadline_ends_the_wait() -> None:
    pending = futures(5)  # the others never finish
    pending[0].set_result(0)
    deadline = time.monotonic() + 0.3
    results = in_order(pending, deadline)
    assert next_in_thread(results).result(timeout=HANG_S) == 0
    second = next_in_thread(results)
    assert isinstance(second.exception(timeout=HANG_S), concurrent.futures.TimeoutError)
    assert time.monotonic() >= deadline  # it waited for the result until the deadline
