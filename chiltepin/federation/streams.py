"""Results of many futures handed to a consumer as a stream.

``Federation.map`` and ``Federation.as_completed`` pull their futures (each made by
submitting a task) only a buffer ahead of what the consumer has read, so a generator of a
million inputs never has a million tasks on the client at once, and they forget each
future once it is handed out.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import queue
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

GATHER = 64
GATHER_S = 0.05
BUFFER = 10_000  # tasks map() and as_completed() have out at once, read or not


def in_order(
    futures: Iterable[concurrent.futures.Future[Any]],
    deadline: float | None,
    ahead: int = BUFFER,
    room: Callable[[], bool] = lambda: True,
) -> Iterator[Any]:
    """Results of ``futures`` in order, as ``Executor.map`` yields them.

    ``futures`` is pulled lazily, at most ``ahead`` beyond the result last yielded (and
    beyond the first only while ``room()``): a generator that submits a task per future
    is then a stream, whose tasks are submitted as their results are read, never all at
    once; a yielded future is forgotten.

    A consumer that has caught up would otherwise be woken once per result: at hundreds
    of short tasks a second that is a thread switch per task, paid on the thread that
    delivers every result. So once it has waited for the next result, it also waits a
    moment (``GATHER_S``, or until the ``GATHER`` after it are in) and yields what has
    arrived meanwhile: a few dozen wake-ups a second, each result late by 50 ms at most.
    """

    def remaining() -> float | None:
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    source = iter(futures)
    window: deque[concurrent.futures.Future[Any]] = deque()

    def fill() -> None:
        while len(window) < ahead and (not window or room()):
            future = next(source, None)
            if future is None:
                return
            window.append(future)

    def results() -> Iterator[Any]:
        while window:
            future = window[0]
            if not future.done():
                concurrent.futures.wait((future,), remaining())
                left = remaining()
                following = list(itertools.islice(window, 1, 1 + GATHER))
                wait_s = GATHER_S if left is None else min(GATHER_S, left)
                concurrent.futures.wait(following, wait_s)
            window.popleft()
            fill()
            yield future.result(remaining())
            del future  # the consumer has it; keep nothing of what it read

    fill()  # the first ``ahead`` now, as Executor.map submits at once
    return results()


def as_completed_lazily(
    futures: Iterable[concurrent.futures.Future[Any]],
    deadline: float | None,
    ahead: int = BUFFER,
    room: Callable[[], bool] = lambda: True,
) -> Iterator[concurrent.futures.Future[Any]]:
    """``futures`` as they finish, pulled lazily as :func:`in_order` pulls them.

    Each finished future is queued by its own done-callback, so waiting costs the same
    however many are outstanding (``concurrent.futures.as_completed`` makes a set of them
    all first, and waits on every one of them each time).
    """
    source = iter(futures)
    finished: queue.SimpleQueue[concurrent.futures.Future[Any]] = queue.SimpleQueue()
    outstanding = 0

    def fill() -> None:
        nonlocal outstanding
        while outstanding < ahead and (not outstanding or room()):
            future = next(source, None)
            if future is None:
                return
            outstanding += 1
            future.add_done_callback(finished.put)

    def results() -> Iterator[concurrent.futures.Future[Any]]:
        nonlocal outstanding
        while outstanding:
            try:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                future = finished.get(timeout=left)
            except queue.Empty:
                raise concurrent.futures.TimeoutError(
                    f"{outstanding} futures (at least) unfinished"
                ) from None
            outstanding -= 1
            fill()
            yield future
            del future

    fill()
    return results()
