"""The run journal: one typed, versioned format; compact lines; damage skipped, not fatal."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from chiltepin.client.calls import SERIALIZER
from chiltepin.client.config import Policy
from chiltepin.errors import ChiltepinError
from chiltepin.federation import Federation
from chiltepin.federation.journal import (
    CALLS,
    INLINE_MAX,
    JOURNAL,
    RESULTS,
    Journal,
    count_states,
    read_journal,
)
from chiltepin.federation.journal_format import VERSION, TaskOptions
from chiltepin.federation.reattach import logical_task
from chiltepin.federation.states import TaskState
from chiltepin.federation.tasks import LogicalTask
from tests.federation import tasks

RAN = {"job": "1", "nodes": 1, "host": "h", "start": 1.0, "end": 2.0}


def _task(journal: Journal, task_id: str, arguments: str = "00\nx", ok: bool | None = True) -> None:
    journal.task(task_id, 0, arguments, TaskOptions())
    journal.attempt(task_id, 1, "a", {}, {})
    if ok is not None:
        journal.outcome(task_id, 1, ok, arguments[::-1], "value" if ok else "E", RAN)


def _journal(run_dir: Path) -> Journal:
    journal = Journal(run_dir)
    journal.run({})
    journal.function(0, "f", "00\nfn")
    return journal


def _one_task_then(run_dir: Path, *lines: bytes) -> None:
    """A journal of one finished task (lines 1-5), then ``lines`` as written by hand."""
    journal = _journal(run_dir)
    _task(journal, "t1")
    journal.close()
    with (run_dir / JOURNAL).open("ab") as f:
        f.writelines(lines)


def test_small_and_large_calls_and_results_read_back(tmp_path: Path) -> None:
    small, large = "00\nsmall", "00\n" + "L" * (INLINE_MAX + 1)
    journal = _journal(tmp_path)
    for task_id, data in (("t1", small), ("t2", large)):
        _task(journal, task_id, data)
    journal.close()

    record = read_journal(tmp_path)
    assert record.version == VERSION and not record.skipped
    assert [record.arguments(record.tasks[t]) for t in ("t1", "t2")] == [small, large]
    assert [record.result(record.tasks[t]) for t in ("t1", "t2")] == [small[::-1], large[::-1]]
    assert record.tasks["t1"].name == "f" and record.function(record.tasks["t1"]) == "00\nfn"
    assert record.tasks["t1"].outcome.ran == RAN and record.tasks["t2"].attempts[0].site == "a"
    # Only the large ones went to the side files; the journal stays small.
    assert (tmp_path / CALLS).stat().st_size == len(large)
    assert (tmp_path / RESULTS).stat().st_size == len(large)
    assert (tmp_path / JOURNAL).stat().st_size < 2 * INLINE_MAX


def test_a_held_task_is_on_disk_before_any_site_takes_it(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.task("t1", 0, "00\nx", TaskOptions())  # held by late binding: no attempt yet
    record = read_journal(tmp_path)  # what a killed client leaves
    assert record.tasks["t1"].attempts == [] and record.arguments(record.tasks["t1"]) == "00\nx"
    journal.attempt("t1", 1, "a", {}, {})
    journal.estimates([{"site": "a", "run_s": 1.5}])
    journal.close()
    record = read_journal(tmp_path)
    assert [a.site for a in record.tasks["t1"].attempts] == ["a"]
    assert record.estimates == [{"site": "a", "run_s": 1.5}]


def test_a_submission_writes_its_task_line_with_the_next_line_or_as_it_ends(
    tmp_path: Path,
) -> None:
    """Within ``submission()`` a task's line waits for the next line any thread writes
    (its attempt's: one write(2) for both), and is written as the block ends if none came
    (a task late binding holds): either way it is on disk before submit returns."""
    journal = _journal(tmp_path)
    with journal.submission():
        journal.task("t1", 0, "00\nx", TaskOptions())
        assert "t1" not in read_journal(tmp_path).tasks  # pending, nothing told yet
        writer = threading.Thread(target=journal.attempt, args=("t1", 1, "a", {}, {}))
        writer.start()  # another thread's line carries it, in order
        writer.join()
        assert [a.site for a in read_journal(tmp_path).tasks["t1"].attempts] == ["a"]
        journal.task("t2", 0, "00\ny", TaskOptions())  # held: no attempt follows
    record = read_journal(tmp_path)
    assert record.tasks["t2"].attempts == [] and record.arguments(record.tasks["t2"]) == "00\ny"
    with journal.submission():
        journal.task("t3", 0, "00\nz", TaskOptions())
        journal.close()  # closing writes what is pending
    assert not read_journal(tmp_path).skipped and "t3" in read_journal(tmp_path).tasks


KILLED_AFTER_SUBMITS = """
import os, signal, sys
from pathlib import Path
from chiltepin.federation.journal import Journal
from chiltepin.federation.journal_format import TaskOptions
journal = Journal(Path(sys.argv[1]))
journal.run({})
journal.function(0, "f", "00\\nfn")
for i in range(50):
    with journal.submission():
        journal.task(f"t{i}", 0, "00\\nx", TaskOptions())
        if i % 2:  # placed at once; the others stay held
            journal.attempt(f"t{i}", 1, "a", {}, {})
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_every_submission_survives_a_kill_right_after_it(tmp_path: Path) -> None:
    """A real process submits, then is SIGKILLed with nothing closed or flushed: every
    task it submitted, held or placed, is in its journal for the next client."""
    killed = subprocess.run([sys.executable, "-c", KILLED_AFTER_SUBMITS, str(tmp_path)])
    assert killed.returncode == -signal.SIGKILL
    record = read_journal(tmp_path)
    assert not record.skipped and len(record.tasks) == 50
    placed = {t for t, task in record.tasks.items() if task.attempts}
    assert placed == {f"t{i}" for i in range(1, 50, 2)}


def test_a_small_task_takes_under_300_bytes(tmp_path: Path) -> None:
    """Task, attempt and outcome of a no-op with small arguments, as a run writes them
    (an endpoint's task also has its remote id: about 80 bytes more)."""
    journal = _journal(tmp_path)
    before = (tmp_path / JOURNAL).stat().st_size
    arguments = SERIALIZER.serialize(((123456,), {}))
    ran = {"job": "block-0", "nodes": 1, "host": "node0001", "start": 1.7e9, "end": 1.7e9 + 1}
    for i in range(1000):
        journal.task(f"t{i:06d}", 0, arguments, TaskOptions())
        journal.attempt(f"t{i:06d}", 1, "local", {}, {})
        journal.outcome(f"t{i:06d}", 1, True, SERIALIZER.serialize(123456), "value", ran)
    journal.close()
    per_task = ((tmp_path / JOURNAL).stat().st_size - before) / 1000
    assert per_task <= 300, per_task


def test_every_submit_option_round_trips(tmp_path: Path) -> None:
    """A task is journalled with every option it was given, and what resume rebuilds
    from the journal is the same task (placement is held off: nothing runs)."""
    sites = {name: {"kind": "local", "site": "localhost", "tags": ["gpu"]} for name in ("a", "b")}
    submitted: list[LogicalTask] = []
    with Federation(sites, run_dir=tmp_path, progress=False) as fed:
        fed.conductor.dispatch = submitted.append  # type: ignore[method-assign]
        given = [
            fed._submit(
                tasks.square,
                (3,),
                {"k": 1},
                site="a",
                resources={"walltime": "00:10:00", "nodes": 2},
                tags=["gpu"],
                allowed=["a", "b"],
                policy=Policy.soonest,
                stage_in=[("globus://x/in", "file:///tmp/{task_id}")],
                stage_out=[("file:///tmp/out", "globus://x/out")],
            ),
            fed.map(tasks.square, [4], sites=["b"], policy="round_robin"),
        ]
        held = {t.id: t for t in submitted}
        fed.shutdown(cancel_futures=True)
    assert given
    record = read_journal(tmp_path)
    assert not record.skipped
    restored = {i: logical_task(record, rec) for i, rec in record.tasks.items()}
    first = held["t000000"]
    again = restored["t000000"]
    for name in ("name", "resources", "pinned_site", "tags", "allowed", "policy"):
        assert getattr(again, name) == getattr(first, name), name
    assert (again.stage_in, again.stage_out) == (first.stage_in, first.stage_out)
    assert again.call is not None and first.call is not None
    assert (again.call.args, again.call.kwargs) == ((3,), {"k": 1})
    assert again.call.arguments == first.call.arguments
    assert restored["t000001"].policy is Policy.round_robin
    assert restored["t000001"].allowed == ("b",)


def test_a_torn_last_line_loses_nothing_before_it_and_the_next_writer_starts_fresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _one_task_then(tmp_path, b'{"e":"T","id":"t2","f":0,"a":"00\\nx')  # a kill mid-write
    with caplog.at_level(logging.WARNING):
        assert list(read_journal(tmp_path).tasks) == ["t1"]
    assert not caplog.records  # a torn last line is what a kill leaves: no warning
    journal = Journal(tmp_path)  # the resumed client appends after it
    _task(journal, "t3")
    journal.close()
    record = read_journal(tmp_path)
    assert list(record.tasks) == ["t1", "t3"] and record.tasks["t3"].outcome.ok
    assert [n for n, _ in record.skipped] == [6]  # the torn line, now inside the file


def test_garbage_and_orphan_lines_are_skipped_with_their_line_numbers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _one_task_then(
        tmp_path,
        b"\x00\xffgarbage\n",  # line 6
        b'{"e":"d","ok":1,"id":"t9","n":1,"r":"x","t":1}\n',  # line 7: never submitted
        b'{"e":"a","n":1}\n',  # line 8: an attempt of no task
        b"[1, 2]\n",  # line 9
    )
    journal = Journal(tmp_path)
    _task(journal, "t2")
    journal.close()
    with caplog.at_level(logging.WARNING):
        record = read_journal(tmp_path)
    assert list(record.tasks) == ["t1", "t2"] and all(t.outcome for t in record.tasks.values())
    assert [n for n, _ in record.skipped] == [6, 7, 8, 9]
    assert "journal.jsonl line 7 skipped: DoneEvent for task t9, never submitted" in caplog.text
    assert "line 8 skipped: 'a' event with a missing or malformed field" in caplog.text
    # status reads such a journal in full rather than miscount it, and says so
    counts = count_states(tmp_path)
    assert (counts.tasks, counts.succeeded, counts.skipped) == (2, 2, 4)


def test_a_newer_format_is_refused_naming_the_versions(tmp_path: Path) -> None:
    (tmp_path / JOURNAL).write_text(json.dumps({"e": "run", "v": VERSION + 1}) + "\n")
    with pytest.raises(
        ChiltepinError,
        match=rf"journal.jsonl line 1: journal format {VERSION + 1} is newer .*\(1 to 2\)",
    ):
        read_journal(tmp_path)


def test_a_format_1_journal_reads_and_counts(tmp_path: Path) -> None:
    call = SERIALIZER.serialize(("fn", (1,), {}))
    lines = [
        {"e": "run", "config": {}, "t": 1.0},
        {"e": "task", "id": "t000000", "name": "f", "args": call, "site": "a", "tags": ["x"]},
        {"e": "attempt", "id": "t000000", "n": 1, "site": "a", "options": {}, "t": 2.0},
        {
            "e": "done",
            "id": "t000000",
            "n": 1,
            "ok": True,
            "kind": "value",
            "payload": SERIALIZER.serialize((5, {})),
            "ran": RAN,
            "t": 3.0,
        },
        {"e": "task", "id": "t000001", "name": "f", "args": call, "t": 4.0},
    ]
    (tmp_path / JOURNAL).write_text("".join(json.dumps(e) + "\n" for e in lines))
    record = read_journal(tmp_path)
    assert record.version == 1 and not record.skipped
    task = logical_task(record, record.tasks["t000000"])
    assert (task.name, task.pinned_site, task.tags, task.call.args) == ("f", "a", {"x"}, (1,))
    assert record.tasks["t000000"].outcome.ran == RAN
    counts = count_states(tmp_path)
    assert (counts.tasks, counts.succeeded, counts.held) == (2, 1, 1)


def test_status_counts_a_format_2_journal_without_reading_it(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    _task(journal, "t1")
    _task(journal, "t2", ok=False)
    _task(journal, "t3", ok=None)  # placed, no outcome
    journal.task("t4", 0, "00\nx", TaskOptions())  # held
    journal.attempt("t1", 2, "b", {}, {}, via=TaskState.RACED)  # a race is not a new task placed
    journal.close()
    with (tmp_path / JOURNAL).open("ab") as f:
        f.write(b'{"e":"d","ok":1,')  # torn
    counts = count_states(tmp_path)
    assert (counts.tasks, counts.held, counts.pending) == (4, 1, 1)
    assert (counts.succeeded, counts.failed, counts.skipped) == (1, 1, 0)


def test_a_corrupted_result_fails_its_task_on_resume_naming_the_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.run({"sites": {"a": {"kind": "local", "site": "localhost"}}})
    journal.function(0, "f", SERIALIZER.serialize(tasks.square))
    for task_id, payload in (("t000000", SERIALIZER.serialize(9)), ("t000001", "00\n!!not it")):
        journal.task(task_id, 0, SERIALIZER.serialize(((3,), {})), TaskOptions())
        journal.attempt(task_id, 1, "a", {}, {})
        journal.outcome(task_id, 1, True, payload, "value", RAN)
    journal.close()
    resumed = Federation.reattach(tmp_path, progress=False)
    good, bad = resumed.futures
    resumed.shutdown()
    assert good.result(0) == 9
    with pytest.raises(ChiltepinError, match=r"journal.jsonl line 8: the result of task t000001"):
        bad.result(0)


def test_a_resume_reads_only_the_unfinished_tasks(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    _task(journal, "t000000")
    _task(journal, "t000001", ok=False)
    _task(journal, "t000002", ok=None)
    _task(journal, "t000003")
    journal.close()
    record = read_journal(tmp_path, finished=False)
    assert list(record.tasks) == ["t000002"] and not record.skipped
    assert (record.finished_ok, record.finished_failed, record.last_number) == (2, 1, 3)
