"""A long run on one client: memory, throughput, journal size, status and resume at scale.

One process, one local site, no-op tasks through ``Federation.map`` over a generator:

- client memory: peak resident set over the run, per task, above the resident set after
  a 10,000-task run in the same process (target: under 1 KB per task);
- throughput: tasks/s over the whole run ÷ tasks/s of the 10,000-task run (target ≥ 0.9:
  no slow-down with size);
- journal bytes per task of the run (target ≤ 300);
- the whole run directory's bytes per task (target ≤ 400): the journal, the engine's
  logs (its workers once logged three lines a task), submit scripts, everything a user's
  disk keeps;
- ``chiltepin run status``'s count on a journal of as many tasks, written by the
  journal's own writer, in seconds per million tasks (target < 5; best of 3);
- resume: a journal of as many tasks, the last ``UNFINISHED`` of them placed but never
  finished, reattached; seconds until the first re-placed task's result (target < 60).

CI runs ``TASKS`` tasks; ``CHILTEPIN_BENCH_MILLION=1`` (what ``./dev bench million`` is for
on a machine with half an hour) runs a million.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import psutil

from benchmarks.figures import Figure, timed
from chiltepin.client.calls import SERIALIZER
from chiltepin.federation import Federation
from chiltepin.federation.journal import JOURNAL, Journal, count_states
from chiltepin.federation.journal_format import TaskOptions

BASELINE = 10_000
MILLION = bool(os.environ.get("CHILTEPIN_BENCH_MILLION"))  # a million tasks, not CI's few
TASKS = 1_000_000 if MILLION else 50_000
UNFINISHED = 1_000
WARM_UP = 200
SITES = {"local": {"kind": "local", "site": "localhost"}}
SAMPLE_EVERY = 1_000  # results between two looks at the resident set


def noop(x: int) -> int:
    return x


def _stream(federation: Federation, tasks: int, process: psutil.Process) -> tuple[float, int]:
    """Run ``tasks`` no-ops; (tasks/s, peak resident set seen)."""
    peak = 0
    started = time.perf_counter()
    for read, _ in enumerate(federation.map(noop, iter(range(tasks))), 1):
        if read % SAMPLE_EVERY == 0:
            peak = max(peak, process.memory_info().rss)
    return tasks / (time.perf_counter() - started), max(peak, process.memory_info().rss)


def synthetic_journal(run_dir: Path, tasks: int, unfinished: int) -> None:
    """A run of ``tasks`` no-ops on the local site as its client would have journalled
    it, the last ``unfinished`` placed but not finished (the client was killed)."""
    journal = Journal(run_dir)
    journal.run({"sites": SITES})
    journal.function(0, "noop", SERIALIZER.serialize(noop))
    ran = {"job": "block-0", "nodes": 1, "host": "localhost"}
    for i in range(tasks):
        task_id = f"t{i:06d}"
        journal.task(task_id, 0, SERIALIZER.serialize(((i,), {})), TaskOptions())
        journal.attempt(task_id, 1, "local", {}, {})
        if i < tasks - unfinished:
            now = time.time()
            ran |= {"start": now, "end": now + 1e-4}
            journal.outcome(task_id, 1, True, SERIALIZER.serialize(i), "value", ran)
    journal.close()


def directory_bytes(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def _resume_first_result(run_dir: Path) -> float:
    started = time.perf_counter()
    federation = Federation.reattach(run_dir, progress=False, finished=False)
    try:
        next(iter(federation.as_completed())).result()
        return time.perf_counter() - started
    finally:
        federation.shutdown(wait=False, cancel_futures=True)


def run(tasks: int = TASKS) -> list[Figure]:
    process = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp:
        run_dir = Path(tmp) / "run"
        with Federation(SITES, run_dir=run_dir, progress=False) as federation:
            _stream(federation, WARM_UP, process)  # workers up
            base_rate, _ = _stream(federation, BASELINE, process)
            baseline_rss = process.memory_info().rss
            written = (run_dir / JOURNAL).stat().st_size
            rate, peak = _stream(federation, tasks, process)
        journal_bytes = ((run_dir / JOURNAL).stat().st_size - written) / tasks
        run_tasks = WARM_UP + BASELINE + tasks
        run_dir_bytes = directory_bytes(run_dir)

        big = Path(tmp) / "synthetic"
        synthetic_journal(big, tasks, UNFINISHED)
        status_s = min(timed(lambda: count_states(big)) for _ in range(3))
        counts = count_states(big)
        assert counts.succeeded == tasks - UNFINISHED and counts.pending == UNFINISHED
        resume_s = _resume_first_result(big)

    per_million = 1e6 / tasks
    return [
        Figure(
            f"client RSS per task over a {tasks:,}-task stream, above a {BASELINE:,}-task run's",
            max(0, peak - baseline_rss) / tasks,
            1.0,
            "B",
            1000.0,
            higher=False,
            absolute=True,
            note=f"peak {peak / 1e6:.0f} MB, after the baseline run {baseline_rss / 1e6:.0f} MB",
        ),
        Figure(
            f"no-op tasks/s: {tasks:,}-task stream / {BASELINE:,}-task run",
            rate,
            base_rate,
            "tasks/s",
            0.9,
        ),
        Figure(
            f"journal bytes per task ({tasks:,} no-ops)",
            journal_bytes,
            1.0,
            "B",
            300.0,
            False,
            absolute=True,
        ),
        Figure(
            f"run directory bytes per task ({run_tasks:,} no-ops, logs included)",
            run_dir_bytes / run_tasks,
            1.0,
            "B",
            400.0,
            False,
            absolute=True,
            note=f"{run_dir_bytes / 1e6:.1f} MB in all",
        ),
        Figure(
            f"run status: seconds per million tasks (journal of {tasks:,})",
            status_s * per_million,
            1.0,
            "s",
            5.0,
            higher=False,
            absolute=True,
            note=f"{status_s:.3f} s for {tasks:,} tasks, the best of 3",
        ),
        Figure(
            f"resume: seconds to the first new result ({tasks:,}-task journal)",
            resume_s,
            1.0,
            "s",
            60.0,
            higher=False,
            absolute=True,
        ),
    ]
