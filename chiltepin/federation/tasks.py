"""Logical tasks and their attempts: the bookkeeping behind "exactly once".

A *logical task* is what the user submitted; an *attempt* is one submission of it to one
site. A site failure ends an attempt and may start another elsewhere; the logical task's
future is resolved by the first attempt that finishes *while it is the current attempt*,
and never again, so a late result from a site we gave up on is counted and dropped.

Late binding may also *race* a task: its attempt waits on a site that has no workers yet
while another site has idle ones, so a second attempt starts there and the earlier one
stays live beside it (``raced``). Whichever finishes first settles the task; the other's
result is a duplicate, counted and dropped. A task is raced at most once, so it never
runs more than twice at the same time.

Each task has a :class:`~chiltepin.federation.states.TaskState`; every method here that
changes what a task is doing moves it along the lifecycle's allowed transitions, so the
state the binder, the journal and the live views read is never out of step.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from typing import Any

from chiltepin.client.calls import Call
from chiltepin.client.resources import Resources, Routing
from chiltepin.federation.states import TaskState, check_move


class TaskFuture(Future[Any]):
    """The future a user holds: a ``concurrent.futures.Future`` that also says which
    logical task it is, where its latest attempt went (where it ran, once done) and how
    many attempts it took.

    Args:
        task_id: the task's id in the run's journal (``t000042``).
    """

    def __init__(self, task_id: str) -> None:
        super().__init__()
        self.task_id = task_id
        self.site: str | None = None
        self.attempts = 0

    def __repr__(self) -> str:
        return f"<TaskFuture {self.task_id} site={self.site} {self._state.lower()}>"


@dataclass
class Attempt:
    """One submission of a logical task to one site."""

    task: LogicalTask
    number: int
    site: str
    routing: Routing
    submitted_at: float = field(default_factory=time.time)
    remote_id: str | None = None
    task_group: str | None = None
    finished_at: float | None = None
    reported: bool = False
    handle: Any = None  # the backend's own future, for remote ids and cancellation
    # This site's own call, when the task's arguments hold site paths (SitePath).
    site_call: Call | None = None
    in_window: bool = False  # takes a place in its site's late-binding window
    # The move that started it: placed (the first), retried, raced or failed over.
    via: TaskState = TaskState.PLACED
    # Released while its site had a worker free for it: its start there measures the way
    # out (submit, service, dispatch) with no wait for a busy worker in it.
    unqueued: bool = False

    @property
    def call(self) -> Call:
        call = self.site_call or self.task.call
        if call is None:
            raise RuntimeError(f"task {self.task.id} is settled; its call was released")
        return call


@dataclass
class LogicalTask:
    """What the user submitted, and how far it has got."""

    id: str
    name: str
    call: Call | None  # released (None) once the task is settled
    resources: Resources
    pinned_site: str | None
    tags: frozenset[str]
    future: TaskFuture
    allowed: tuple[str, ...] | None = None  # sites a map() was restricted to
    stage_in: tuple[tuple[str, str], ...] = ()  # (source, destination) templates
    stage_out: tuple[tuple[str, str], ...] = ()
    policy: Any = None  # a per-call placement policy, else the federation's
    attempts: list[Attempt] = field(default_factory=list)
    excluded_sites: set[str] = field(default_factory=set)
    raced: Attempt | None = None  # an earlier attempt still live beside the current one
    was_raced: bool = False
    _current: Attempt | None = None
    _state: TaskState = TaskState.HELD
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def current(self) -> Attempt | None:
        return self._current

    @property
    def state(self) -> TaskState:
        """Where the task is now (a future the user cancelled reads ``cancelled``)."""
        state = self._state
        if not state.settled and self.future.cancelled():
            return TaskState.CANCELLED
        return state

    def _move(self, new: TaskState) -> None:
        check_move(self.id, self._state, new)
        self._state = new

    def new_attempt(
        self, site: str, routing: Routing, *, race: bool = False, running: bool = False
    ) -> Attempt:
        """A new attempt on ``site``: it replaces the current one, or with ``race`` runs
        beside it (once per task). ``running``: a worker there is free for it."""
        with self._lock:
            number = len(self.attempts) + 1
            if race:
                self.raced, self.was_raced = self._current, True
                via = TaskState.RACED
            elif self.raced is not None:  # beside the attempt its stopped site holds
                via = TaskState.FAILED_OVER
            else:
                via = TaskState.PLACED if number == 1 else TaskState.RETRIED
            attempt = Attempt(task=self, number=number, site=site, routing=routing, via=via)
            self._move(
                TaskState.RACED
                if self.raced is not None
                else TaskState.RUNNING
                if running
                else TaskState.PLACED
            )
            self.attempts.append(attempt)
            self._current = attempt
            self.future.attempts = attempt.number
            self.future.site = site
            return attempt

    def restore_attempt(
        self, site: str, routing: Routing, via: TaskState = TaskState.PLACED
    ) -> Attempt:
        """An attempt a previous client of the run made, as history: it keeps attempt
        numbers increasing across clients and may settle the task from the journal, but
        the task stays held until it is collected or placed again.

        ``via``: the move that started it. A task that was raced or failed over beside a
        live attempt once is never raced again, in this client or a resumed one: each
        race may cost one duplicate run, not one per client.
        """
        with self._lock:
            attempt = Attempt(
                task=self, number=len(self.attempts) + 1, site=site, routing=routing, via=via
            )
            if via in (TaskState.RACED, TaskState.FAILED_OVER):
                self.was_raced = True
            self.attempts.append(attempt)
            self._current = attempt
            self.future.attempts = attempt.number
            self.future.site = site
            return attempt

    def retrying(self, attempt: Attempt) -> bool:
        """``attempt`` ended with a site failure and the task will be placed again; False
        if ``attempt`` no longer decides the task (it is settled, or moved on)."""
        with self._lock:
            if self.future.done() or attempt not in (self._current, self.raced):
                return False
            self._move(TaskState.RETRIED)
            return True

    def is_current(self, attempt: Attempt) -> bool:
        """Whether ``attempt`` may still settle the task."""
        with self._lock:
            return not self.future.done() and attempt in (self._current, self.raced)

    def withdraw(self, attempt: Attempt) -> bool:
        """Take a failed attempt out of a race: True if the task's other attempt runs on
        (so this failure needs no new attempt), False if ``attempt`` was its only one or
        the task's next attempt is not placed yet (it will be: the task is held)."""
        with self._lock:
            if self.raced is None or self.future.done():
                return False
            if attempt is self._current:
                self._current = self.raced
            elif attempt is not self.raced:
                return False
            self.raced = None
            if self._current is None:  # a stood-by attempt failed while the task is held
                return False
            self._move(TaskState.PLACED)
            return True

    def stand_by(self, attempt: Attempt) -> bool:
        """``attempt``'s site stopped: it stays live, as the earlier attempt of a race,
        while the task is placed again (its next attempt becomes current). Whichever
        answers first settles the task. False if it is not the task's only live attempt."""
        with self._lock:
            if self.future.done() or attempt is not self._current or self.raced is not None:
                return False
            self.raced, self._current, self.was_raced = attempt, None, True
            self._move(TaskState.FAILED_OVER)
            return True

    def resolve(
        self,
        attempt: Attempt | None,
        *,
        value: Any = None,
        error: BaseException | None = None,
        record: Callable[[], None] | None = None,
    ) -> bool:
        """Settle the user's future from ``attempt``; False if it is stale or already settled.

        ``attempt`` is None only for a task refused before it was ever placed (no site
        could take it), which settles it only while it has no attempt.
        ``record`` runs first, under the task's lock, only for the winning attempt: the
        journal learns the outcome before anyone waiting on the future can.
        """
        with self._lock:
            if attempt is not None:
                attempt.finished_at = time.time()
            if attempt is None:  # only a task that never had an attempt
                stale = self._current is not None or self.raced is not None
            else:
                stale = attempt not in (self._current, self.raced)
            if stale or self.future.done():
                return False
            if record is not None:
                record()
            self._move(_ending(error))
            self._release()
            self.future.site = attempt.site if attempt is not None else None
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(value)
            return True

    def _release(self) -> None:
        """Drop what only a resubmission needs: a settled task never runs again, and a
        10,000-task fanout should not hold 10,000 calls (the journal keeps them on disk).
        Its attempts go too: each refers back to the task, and that cycle would otherwise
        wait for the garbage collector's full passes, which a long fanout makes dear."""
        self.call = None
        for attempt in self.attempts:
            attempt.handle = attempt.site_call = None
        self.attempts = []
        self._current = self.raced = None


def _ending(error: BaseException | None) -> TaskState:
    """The state a task settles in with ``error`` (None: its value)."""
    if error is None:
        return TaskState.SUCCEEDED
    return TaskState.CANCELLED if isinstance(error, CancelledError) else TaskState.FAILED
