"""The dashboard at scale: a big run's first paint, its memory, and what watching costs a run.

- first paint: a fresh dashboard process asked for ``/api/run/RUN`` (everything the run
  page draws) as the page asks, once a second, on a journal of ``TASKS`` finished no-ops
  written by the journal's own writer. Cold (no snapshot): the first answer (what one
  request's reading budget got through, target < 3 s) and the first whole one (the whole
  journal read, and the snapshot saved; no slower than 30 counts); warm (from the
  snapshot the cold read saved): the first whole answer, target < 3 s and no slower than
  the count. A count is what ``chiltepin run status``
  (:func:`~chiltepin.federation.journal.count_states`, which parses no line) takes on
  the same journal, the best of 3. Counts and paints (each round's cold one on a journal
  whose snapshot was removed) take turns over ``ROUNDS`` rounds; each figure is the median
  of the rounds' own;
- the dashboard process's peak resident set during the cold reads, the highest of the
  rounds (target < 300 MB);
- a run of ``RUN_TASKS`` no-ops on one embedded local site, watched by a dashboard in its
  own process that the page's poll asks for ``/api/run/RUN`` every second, against the same
  run unwatched: rounds taken in turns (:class:`~benchmarks.figures.Rounds`), the ratio of
  tasks/s (target ≥ 0.98).

CI reads 100,000 tasks; ``CHILTEPIN_BENCH_MILLION=1`` reads a million.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NamedTuple

import psutil

from benchmarks.bench_million import MILLION, synthetic_journal
from benchmarks.figures import Figure, Rounds, of_rounds, paired, timed
from chiltepin.dashboard.snapshot import SNAPSHOT
from chiltepin.federation.journal import count_states

TASKS = 1_000_000 if MILLION else 100_000
RUN_TASKS = 2000
ROUNDS = 3
POLL_S = 1.0  # the run page's poll
SAMPLE_S = 0.02  # between two looks at the dashboard's resident set
SITES = {"local": {"kind": "local", "site": "localhost"}}


def noop(x: int) -> int:
    return x


def serve(root: str, conn: Connection) -> None:
    """A dashboard's own process, as ``chiltepin dashboard --runs ROOT`` runs it."""
    from chiltepin.dashboard.server import Dashboard

    with Dashboard(Path(root)) as dashboard:
        conn.send((dashboard.address[1], dashboard.token))
        conn.recv()  # until the parent is done with it


@contextlib.contextmanager
def dashboard(root: Path) -> Iterator[tuple[Callable[[str], bytes], int]]:
    """A dashboard process over ``root``: (a GET of a path with the token, its PID)."""
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    process = spawn.Process(target=serve, args=(str(root), child), name="dashboard")
    process.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the dashboard did not start within 60 s")
        port, token = parent.recv()

        def get(path: str) -> bytes:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(request, timeout=600) as response:
                return bytes(response.read())

        assert process.pid is not None
        yield get, process.pid
    finally:
        with contextlib.suppress(OSError):
            parent.send(None)
        process.join(30)
        if process.exitcode is None:
            process.kill()  # by its PID


def first_paint(run_dir: Path) -> tuple[float, float, int]:
    """A fresh dashboard's page of the run, asked for as the page does, once a second
    until the view has read the whole journal: (seconds to the first answer, seconds to
    the first whole one, the dashboard's peak resident set)."""
    with dashboard(run_dir.parent) as (get, pid):
        process = psutil.Process(pid)
        peak = process.memory_info().rss
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(SAMPLE_S):
                peak = max(peak, process.memory_info().rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        page = json.loads(get(f"/api/run/{run_dir.name}"))
        first = time.perf_counter() - started
        while page["journal"]["partial"]:
            time.sleep(POLL_S)
            page = json.loads(get(f"/api/run/{run_dir.name}"))
        whole = time.perf_counter() - started
        done.set()
        sampler.join()
        return first, whole, max(peak, process.memory_info().rss)


@contextlib.contextmanager
def polled(get: Callable[[str], bytes], run: str) -> Iterator[None]:
    """The run page's poll: ``/api/run/RUN`` every second until the block ends."""
    stop = threading.Event()

    def poll() -> None:
        while True:
            get(f"/api/run/{run}")
            if stop.wait(POLL_S):
                return

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        yield
    finally:
        stop.set()
        poller.join()


def watched_throughput(root: Path, rounds: int) -> Rounds:
    """Tasks/s of a run watched and unwatched, in turns over one Federation."""
    from chiltepin.federation import Federation

    run_dir = root / "watched"
    with (
        Federation(SITES, run_dir=run_dir, progress=False) as federation,
        dashboard(root) as (get, _),
    ):
        list(federation.map(noop, range(200)))  # workers up

        def burst() -> float:
            list(federation.map(noop, range(RUN_TASKS // 10)))  # as warm as the other turn
            started = time.perf_counter()
            list(federation.map(noop, range(RUN_TASKS)))
            return RUN_TASKS / (time.perf_counter() - started)

        def watched() -> float:
            with polled(get, run_dir.name):
                return burst()

        return Rounds(rounds, {"watched": watched, "unwatched": burst})


class Paint(NamedTuple):
    """One round's paints of the big run: cold (the snapshot removed first), then warm."""

    first_s: float
    cold_s: float
    peak: int
    warm_s: float


def paint(run_dir: Path) -> Paint:
    """A cold paint of ``run_dir`` (its snapshot removed first), then a warm one."""
    (run_dir / SNAPSHOT).unlink(missing_ok=True)
    first_s, cold_s, peak = first_paint(run_dir)
    if not (run_dir / SNAPSHOT).is_file():
        raise RuntimeError("the cold read saved no snapshot")
    _, warm_s, _ = first_paint(run_dir)
    return Paint(first_s, cold_s, peak, warm_s)


def run(tasks: int = TASKS, rounds: int = ROUNDS) -> list[Figure]:
    counts: list[float] = []
    paints: list[Paint] = []
    with tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp:
        big = Path(tmp) / "runs" / "big"
        synthetic_journal(big, tasks, 0)

        def count() -> float:
            counts.append(min(timed(lambda: count_states(big)) for _ in range(3)))
            return counts[-1]

        def painted() -> float:
            paints.append(paint(big))
            return paints[-1].cold_s

        Rounds(rounds, {"count": count, "paint": painted})
        measured = watched_throughput(Path(tmp) / "live", rounds)
    cold = [p.cold_s for p in paints]
    warm = [p.warm_s for p in paints]
    peaks = [p.peak / 1e6 for p in paints]
    baseline = "run status's count: the best of 3, in each round"

    def absolute(name: str, values: list[float], unit: str, target: float) -> Figure:
        return of_rounds(
            [Figure(name, v, 1.0, unit, target, higher=False, absolute=True) for v in values]
        )

    def against_count(name: str, values: list[float], target: float) -> Figure:
        figure = paired(name, values, counts, "s", target, higher=False)
        seconds = "/".join(f"{v:.3f}" for v in values)
        counted = "/".join(f"{c:.3f}" for c in counts)
        return replace(figure, note=f"{figure.note}; {seconds} s; {baseline}: {counted} s")

    return [
        absolute(
            f"dashboard first paint, cold (no snapshot; counts so far): {tasks:,} tasks",
            [p.first_s for p in paints],
            "s",
            3.0,
        ),
        against_count(
            f"dashboard whole view, cold (no snapshot), / run status count: {tasks:,} tasks",
            cold,
            30.0,
        ),
        against_count(
            f"dashboard first paint, warm (snapshot), / run status count: {tasks:,} tasks",
            warm,
            1.0,
        ),
        absolute(f"dashboard first paint, warm: {tasks:,} tasks", warm, "s", 3.0),
        Figure(
            f"dashboard peak RSS reading a {tasks:,}-task journal cold",
            max(peaks),
            1.0,
            "MB",
            300.0,
            higher=False,
            absolute=True,
            note=f"the highest of {len(peaks)} rounds' ({min(peaks):.0f}-{max(peaks):.0f} MB)",
        ),
        measured.figure(
            f"no-op tasks/s watched by the dashboard / unwatched ({RUN_TASKS} tasks, 1 local site)",
            "watched",
            "unwatched",
            "tasks/s",
            0.98,
        ),
    ]
