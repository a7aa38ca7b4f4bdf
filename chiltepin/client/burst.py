"""Hand items over in bursts: the SDK ``Executor`` sends what it has queued as one batch.

The SDK's submitter thread wakes on the first queued task and sends whatever has arrived
by the time it runs, so tasks that reach it one by one (a ``map`` loop, Parsl's
DataFlowKernel launching each task as its inputs resolve) leave in many small batches,
and every batch is a request against the service's 20 per 10 s. A :class:`Burst` holds
items while they keep coming (until none has arrived for a few milliseconds, a full batch
is waiting, or the oldest has waited a quarter of a second) and delivers them all at
once, so the SDK finds full batches queued.

With ``min_interval``, deliveries are paced as well: one never follows the previous
sooner than it says (asked each time, so a caller can pace only while its request budget
is under pressure), and items that trickle in (late binding releasing a task as each
worker frees up) go in one request per interval rather than one each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from chiltepin.client.limits import MAX_BATCH

T = TypeVar("T")

LINGER_S = 0.02
MAX_HOLD_S = 0.25


class Burst(Generic[T]):
    """Collect items; call ``deliver`` with them, from one background thread and in
    submission order, once ``linger_s`` passed without a new one, ``max_items`` are
    waiting, or the oldest has waited ``max_hold_s``; never sooner than ``min_interval()``
    seconds after the previous delivery (a full batch does not wait for it)."""

    def __init__(
        self,
        deliver: Callable[[list[T]], None],
        *,
        name: str,
        linger_s: float = LINGER_S,
        max_items: int = MAX_BATCH,
        max_hold_s: float = MAX_HOLD_S,
        min_interval: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self._deliver = deliver
        self.linger_s = linger_s
        self.max_items = max_items
        self.max_hold_s = max_hold_s
        self.min_interval = min_interval
        self._delivered_at = -float("inf")
        self._pending: list[T] = []
        self._first_at = self._last_at = 0.0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def add(self, item: T) -> None:
        with self._lock:
            if self._closing:
                raise RuntimeError("cannot add to a closed Burst")
            self._last_at = time.monotonic()
            if not self._pending:
                self._first_at = self._last_at
            self._pending.append(item)
            full = len(self._pending) >= self.max_items
        if full:
            self._wake.set()

    def close(self) -> None:
        """Deliver what is still waiting, then stop the thread."""
        with self._lock:
            self._closing = True
        self._wake.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._closing:
            self._wake.wait(self._wait_s())
            self._wake.clear()
            self._flush(due_only=True)
        self._flush(due_only=False)

    def _wait_s(self) -> float:
        """How long until the pending items are due (0: now)."""
        with self._lock:
            return self._due_in()

    def _due_in(self) -> float:
        """Seconds until the pending items are due (``linger_s`` while there are none);
        the caller holds the lock."""
        if not self._pending:
            return self.linger_s
        if len(self._pending) >= self.max_items:
            return 0.0
        due = min(self._last_at + self.linger_s, self._first_at + self.max_hold_s)
        due = max(due, self._delivered_at + self.min_interval())
        return max(0.0, due - time.monotonic())

    def _flush(self, *, due_only: bool) -> None:
        """Deliver everything waiting (with ``due_only``, only if it is due: decided under
        the lock, as an item may arrive after the wait), never more than ``max_items`` in
        one call: items added while the thread was busy delivering can outnumber a batch."""
        with self._lock:
            if not self._pending or (due_only and self._due_in() > 0.0):
                return
            waiting, self._pending = self._pending, []
            self._delivered_at = time.monotonic()
        for start in range(0, len(waiting), self.max_items):
            self._deliver(waiting[start : start + self.max_items])
