"""The task lifecycle: named states, the one table of allowed moves, and every door of
``LogicalTask`` moving along it; the journal and the report read the same names."""

from __future__ import annotations

from pathlib import Path

import pytest

from chiltepin.client.resources import Routing, parse_resources
from chiltepin.federation.journal import Journal, read_journal
from chiltepin.federation.journal_format import TaskOptions
from chiltepin.federation.states import (
    SETTLED,
    TRANSITIONS,
    TaskState,
    TaskStateError,
    check_move,
)
from chiltepin.federation.tasks import LogicalTask, TaskFuture
from chiltepin.report.model import build_report

ROUTING = Routing({}, {})


def _task(task_id: str = "t1") -> LogicalTask:
    return LogicalTask(
        task_id, "f", None, parse_resources(None), None, frozenset(), TaskFuture(task_id)
    )


def test_the_table_names_every_state_and_settled_ones_never_move() -> None:
    assert set(TRANSITIONS) == set(TaskState)
    for state in SETTLED:
        assert TRANSITIONS[state] == frozenset()
        for other in TaskState:
            if other is not state:
                with pytest.raises(TaskStateError, match=f"{state.value} -> {other.value}"):
                    check_move("t1", state, other)
    for state in set(TaskState) - SETTLED:  # whatever a task is doing, it can end
        assert TRANSITIONS[state] >= SETTLED


def test_a_task_is_held_then_placed_or_running_and_settles_once() -> None:
    placed, running = _task("t1"), _task("t2")
    assert placed.state is TaskState.HELD
    placed.new_attempt("a", ROUTING)
    running.new_attempt("a", ROUTING, running=True)
    assert (placed.state, running.state) == (TaskState.PLACED, TaskState.RUNNING)
    attempt = placed.current
    assert attempt is not None and attempt.via is TaskState.PLACED
    assert placed.resolve(attempt, value=1)
    assert placed.state is TaskState.SUCCEEDED
    assert not placed.retrying(attempt)  # settled: no attempt decides it any more
    assert placed.state is TaskState.SUCCEEDED


def test_a_site_failure_retries_and_the_next_attempt_says_so() -> None:
    task = _task()
    first = task.new_attempt("a", ROUTING)
    assert task.retrying(first)
    assert task.state is TaskState.RETRIED
    second = task.new_attempt("b", ROUTING)
    assert (task.state, second.via) == (TaskState.PLACED, TaskState.RETRIED)
    assert task.resolve(second, error=RuntimeError("user's own"))
    assert task.state is TaskState.FAILED


def test_a_race_and_its_withdrawn_loser() -> None:
    task = _task()
    waiting = task.new_attempt("cold", ROUTING)
    racing = task.new_attempt("warm", ROUTING, race=True)
    assert (task.state, racing.via) == (TaskState.RACED, TaskState.RACED)
    assert task.withdraw(waiting)  # the cold one failed: the warm one runs on
    assert task.state is TaskState.PLACED and task.current is racing
    assert not task.resolve(waiting, value=0)  # withdrawn: it cannot settle the task
    assert task.resolve(racing, value=1) and task.future.result() == 1


def test_a_stopped_site_fails_over_and_the_stood_by_attempt_may_still_win() -> None:
    task = _task()
    stopped = task.new_attempt("a", ROUTING)
    assert task.stand_by(stopped)
    assert task.state is TaskState.FAILED_OVER and task.current is None
    moved = task.new_attempt("b", ROUTING)
    assert (task.state, moved.via) == (TaskState.RACED, TaskState.FAILED_OVER)
    assert task.resolve(stopped, value="back first")  # the site came back and answered
    assert task.state is TaskState.SUCCEEDED and task.future.site == "a"


def test_a_cancelled_future_reads_cancelled_and_an_unknown_move_is_refused() -> None:
    task = _task()
    assert task.future.cancel()
    assert task.state is TaskState.CANCELLED
    settled = _task("t2")
    settled.resolve(None, error=RuntimeError("refused before any site took it"))
    assert settled.state is TaskState.FAILED
    with pytest.raises(TaskStateError):
        settled.new_attempt("a", ROUTING)


def test_the_journal_keeps_each_attempts_move_and_the_report_counts_by_it(
    tmp_path: Path,
) -> None:
    """A failover (its attempt stood by) is a failover, not a retry; a race is neither."""
    journal = Journal(tmp_path)
    journal.run({})
    journal.function(0, "f", "00\nfn")
    moves = {
        "t1": [("a", TaskState.PLACED), ("b", TaskState.RETRIED)],
        "t2": [("a", TaskState.PLACED), ("b", TaskState.RACED)],
        "t3": [("a", TaskState.PLACED), ("b", TaskState.FAILED_OVER)],
    }
    for task_id, attempts in moves.items():
        journal.task(task_id, 0, "00\nx", TaskOptions())
        for number, (site, via) in enumerate(attempts, 1):
            journal.attempt(task_id, number, site, {}, {}, via=via)
    journal.close()
    record = read_journal(tmp_path)
    assert {
        task_id: [(a.site, a.via) for a in task.attempts] for task_id, task in record.tasks.items()
    } == moves
    site_a = next(s for s in build_report(tmp_path).sites if s.site == "a")
    assert (site_a.retries, site_a.failovers) == (1, 2)


def test_a_resumed_task_that_was_raced_is_never_raced_again() -> None:
    """A race may cost one duplicate run per task, not one per client of the run: the
    attempts a resumed client restores from the journal carry their move, and a raced or
    failed-over one marks the task raced for good (late binding races only unraced tasks).
    """
    history = {
        "t1": [TaskState.PLACED, TaskState.RETRIED],
        "t2": [TaskState.PLACED, TaskState.RACED],
        "t3": [TaskState.PLACED, TaskState.FAILED_OVER],
    }
    restored = {}
    for task_id, moves in history.items():
        task = _task(task_id)
        for via in moves:
            task.restore_attempt("a", ROUTING, via)
        assert [a.via for a in task.attempts] == moves
        assert task.state is TaskState.HELD  # history only: the task waits to be placed
        restored[task_id] = task.was_raced
    assert restored == {"t1": False, "t2": True, "t3": True}
