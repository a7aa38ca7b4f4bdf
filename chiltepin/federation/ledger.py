"""The run's tasks as the client holds them while they are out.

A long run must not hold what it has finished with: the ledger keeps every unsettled
task (for shutdown, and for the live counts by :class:`~chiltepin.federation.states.TaskState`),
the futures ``submit()`` gave out until ``as_completed()`` hands them on, and the numbers
that name tasks and functions in the journal (a reattached run goes on after the last
it journalled). Nothing of a settled task stays but an unread future.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from chiltepin.client.calls import serialize
from chiltepin.federation.journal import Journal
from chiltepin.federation.states import TaskState
from chiltepin.federation.tasks import LogicalTask, TaskFuture


def task_name(fn: Callable[..., Any]) -> str:
    """What a task of ``fn`` is called in the journal and the report."""
    return getattr(fn, "__qualname__", type(fn).__name__)


class TaskLedger:
    """Task numbers, unsettled tasks and kept futures: thread-safe."""

    def __init__(self) -> None:
        self._ids = itertools.count()
        self._unsettled: dict[str, LogicalTask] = {}
        self._kept: dict[str, TaskFuture] = {}
        self._lock = threading.Lock()
        self.cancelled = 0  # settled by a cancel: the run's statistics count the rest

    def next_id(self) -> str:
        return f"t{next(self._ids):06d}"

    def continue_after(self, number: int) -> None:
        """Number new tasks after ``number`` (the last a previous client journalled)."""
        self._ids = itertools.count(number + 1)

    def track(self, task: LogicalTask, *, keep: bool) -> None:
        """Hold ``task`` until it settles; with ``keep``, its future until handed out."""
        future = task.future
        with self._lock:
            self._unsettled[task.id] = task
            if keep:
                self._kept[task.id] = future
        future.add_done_callback(self._settled)

    def _settled(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._unsettled.pop(future.task_id, None)  # type: ignore[attr-defined]  # a TaskFuture
            self.cancelled += future.cancelled()

    def handed_out(
        self, futures: Iterable[concurrent.futures.Future[Any]]
    ) -> Iterator[concurrent.futures.Future[Any]]:
        """``futures``, each forgotten as it is pulled: its consumer holds it now."""
        for future in futures:
            task_id = getattr(future, "task_id", None)
            if task_id is not None:
                with self._lock:
                    self._kept.pop(task_id, None)
            yield future

    @property
    def kept(self) -> list[TaskFuture]:
        """The kept futures not handed out yet, in submission order."""
        with self._lock:
            return list(self._kept.values())

    @property
    def unsettled(self) -> list[TaskFuture]:
        with self._lock:
            return [task.future for task in self._unsettled.values()]

    def states(self) -> Counter[TaskState]:
        """How many unsettled tasks are in each state, and how many were cancelled (the
        run's statistics count the ones that succeeded or failed, and outlive them)."""
        with self._lock:
            tasks = list(self._unsettled.values())
            cancelled = self.cancelled
        counts = Counter(task.state for task in tasks)
        counts[TaskState.CANCELLED] += cancelled
        return counts


class FunctionTexts:
    """Each function serialised, and journalled, once per run however many tasks call
    it (dill's pure-Python pickling of code is the dearest step of a submit, and its text
    would be most of each task's journal line), with the number the journal knows it by."""

    def __init__(self, journal: Journal, serializer: Any) -> None:
        """``serializer`` is the SDK serialiser functions go through (by reference, or
        as source for workers that cannot import the client's modules)."""
        self._journal = journal
        self._serializer = serializer
        self._numbers = itertools.count()
        self._known: dict[int, tuple[Callable[..., Any], str, int]] = {}
        self._lock = threading.Lock()

    def continue_after(self, number: int) -> None:
        """Number new functions after ``number`` (the last a previous client journalled)."""
        self._numbers = itertools.count(number + 1)

    def of(self, fn: Callable[..., Any]) -> tuple[str, int]:
        """``fn``'s serialised text and its number, journalling it the first time."""
        with self._lock:
            known = self._known.get(id(fn))
            if known is not None and known[0] is fn:
                return known[1], known[2]
        serialized = serialize(fn, f"the function {task_name(fn)!r}", self._serializer)
        with self._lock:
            known = self._known.get(id(fn))
            if known is None or known[0] is not fn:
                number = next(self._numbers)
                self._journal.function(number, task_name(fn), serialized)
                known = self._known[id(fn)] = (fn, serialized, number)
        return known[1], known[2]
