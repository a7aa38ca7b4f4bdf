"""A logical task's states and the moves between them, in one place.

Parsl names its task states (``pending``, ``launched``, ``running``, ``exec_done`` …) so a
reader, a monitor and a dashboard agree on what a task is doing. A federated task has a
few more: it may wait on the client for a site (late binding), be placed again after its
site failed or stopped, or run twice at once in a race. Each state below is what the
client *knows*; nothing here guesses.

- ``held``: on the client, waiting for a site with room (late binding holds every task
  until one can start it; a fixed split passes through it at once).
- ``placed``: one attempt is out at a site, where it may wait for a worker.
- ``running``: it was released to a site with a worker free for it, so it starts without
  waiting for another task. Neither Globus Compute's result stream nor the embedded
  engine tells the client the moment a task starts; the probe's record of where and when
  it ran arrives with its result (the report and timeline use that).
- ``retried``: its attempt ended with a site failure (lost workers, killed batch job,
  endpoint offline past its grace period) and it is being placed again elsewhere.
- ``raced``: two attempts are live: one waits on a site with no workers yet, or on a
  stopped site that may come back, and the other started elsewhere. The first result
  wins; the other is a counted duplicate.
- ``failed over``: its site stopped (announced, or silent and then finishing nothing):
  the stopped attempt stands by while the task is placed again.
- ``succeeded`` / ``failed`` / ``cancelled``: settled, once. A task refused before any
  site took it goes from ``held`` to ``failed``.

:data:`TRANSITIONS` is the one list of allowed moves; :class:`LogicalTask
<chiltepin.federation.tasks.LogicalTask>` refuses any other, the journal records the move
that started each attempt (:class:`~chiltepin.federation.journal_format.AttemptEvent`), and
the report and live counts read these names.
"""

from __future__ import annotations

from enum import Enum


class TaskState(str, Enum):
    """Where a logical task is; see the module's doc for each."""

    HELD = "held"
    PLACED = "placed"
    RUNNING = "running"
    RETRIED = "retried"
    RACED = "raced"
    FAILED_OVER = "failed over"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def settled(self) -> bool:
        return self in SETTLED

    @property
    def live(self) -> bool:
        """At a site: at least one attempt is out."""
        return self in LIVE


SETTLED = frozenset({TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED})
LIVE = frozenset({TaskState.PLACED, TaskState.RUNNING, TaskState.RACED})
_ENDS = SETTLED  # every unsettled state may end: a result, a refusal, a cancel

TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    # released to a site (to a free worker: running); a stood-by attempt makes it a race
    TaskState.HELD: frozenset({TaskState.PLACED, TaskState.RUNNING, TaskState.RACED}) | _ENDS,
    TaskState.PLACED: frozenset(
        {TaskState.RUNNING, TaskState.RETRIED, TaskState.RACED, TaskState.FAILED_OVER}
    )
    | _ENDS,
    TaskState.RUNNING: frozenset(
        {TaskState.RETRIED, TaskState.RACED, TaskState.FAILED_OVER} | _ENDS
    ),
    # placed again: held for late binding, or handed to a site at once by a fixed split
    TaskState.RETRIED: frozenset({TaskState.HELD, TaskState.PLACED, TaskState.RUNNING}) | _ENDS,
    # one attempt of the race failed and the other runs on, or both failed: placed again
    TaskState.RACED: frozenset({TaskState.PLACED, TaskState.RETRIED}) | _ENDS,
    TaskState.FAILED_OVER: frozenset({TaskState.HELD, TaskState.RACED}) | _ENDS,
    TaskState.SUCCEEDED: frozenset(),
    TaskState.FAILED: frozenset(),
    TaskState.CANCELLED: frozenset(),
}


class TaskStateError(RuntimeError):
    """A move :data:`TRANSITIONS` does not allow: a bug in chiltepin, never the user's."""


def check_move(task_id: str, old: TaskState, new: TaskState) -> None:
    """Refuse a move the lifecycle does not allow (``old`` to itself is no move)."""
    if new is not old and new not in TRANSITIONS[old]:
        raise TaskStateError(f"task {task_id}: {old.value} -> {new.value} is not a task move")
