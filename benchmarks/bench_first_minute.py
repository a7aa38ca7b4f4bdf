"""The first minute of a run: a cold burst over two sites, and the time to a first result.

What a user feels on short runs is the start: sites getting ready, and the first burst's
tasks finding workers. Each measurement opens its stack from nothing, in a process of its
own (so no engine, thread or cache is left warm from the one before), submits a burst of
short tasks at once, and times from the open to the burst's last result (and to its first).

- a burst of 16 and of 200 ``sleep(0.2)`` tasks over two embedded sites of 2 and 1
  workers, against the same burst over the 2-worker site alone: a second site must help
  (target <= 0.95 of the makespan alone);
- the time from opening a Federation over the 2-worker site to its first result, against
  the raw GlobusComputeEngine that site renders to, started and given the same burst
  (target <= 1.1).

The candidates take turns in rotated order (ABC, BCA, CAB, ...), and each ratio is the
median of the rounds' own ratios, with their spread in the note.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.figures import Figure, Rounds

SLEEP_S = 0.2
SMALL, LARGE = 16, 200
WORKERS_A: dict[str, Any] = {"max_workers_per_node": 2}
SITE_A = {"kind": "local", "site": "localhost", "options": WORKERS_A}
SITE_B = {"kind": "local", "site": "localhost", "options": {"max_workers_per_node": 1}}
STACKS = {"two": {"a": SITE_A, "b": SITE_B}, "one": {"a": SITE_A}}


def short(x: int) -> int:
    time.sleep(SLEEP_S)
    return x


def _burst(submit: Callable[[int], concurrent.futures.Future], tasks: int, t0: float) -> tuple:
    """Submit ``tasks`` at once; seconds from ``t0`` to the first and to the last result."""
    futures = [submit(i) for i in range(tasks)]
    first = next(concurrent.futures.as_completed(futures))
    first_s = time.perf_counter() - t0
    concurrent.futures.wait(futures)
    assert first.result() is not None and all(f.result() == i for i, f in enumerate(futures))
    return first_s, time.perf_counter() - t0


def measure(stack: str, tasks: int, run_dir: str) -> tuple[float, float]:
    """One cold measurement in this (fresh) process: (to first result, to last) seconds."""
    from chiltepin.embedded import console_scripts_on_path

    console_scripts_on_path()
    if stack == "engine":
        from chiltepin.embedded import EmbeddedEngine
        from chiltepin.sites.loader import load_site

        t0 = time.perf_counter()
        with EmbeddedEngine(load_site("localhost"), WORKERS_A, run_dir=Path(run_dir)) as engine:
            return _burst(lambda i: engine.submit(short, i), tasks, t0)
    from chiltepin.federation import Federation

    t0 = time.perf_counter()
    with Federation(STACKS[stack], run_dir=run_dir, progress=False) as federation:
        return _burst(lambda i: federation.submit(short, i), tasks, t0)


def _child(
    stack: str, tasks: int, run_dir: str, conn: multiprocessing.connection.Connection
) -> None:
    conn.send(measure(stack, tasks, run_dir))


def cold(stack: str, tasks: int, tmp: Path, firsts: dict[str, list[float]]) -> Callable[[], float]:
    """A candidate for :class:`Rounds`: one cold measurement in a new process; the time to
    the first result goes to ``firsts``, the makespan is the sample."""
    spawn = multiprocessing.get_context("spawn")
    key = f"{stack}-{tasks}"

    def sample() -> float:
        parent, child = spawn.Pipe()
        run_dir = tempfile.mkdtemp(prefix=f"{key}-", dir=tmp)
        process = spawn.Process(target=_child, args=(stack, tasks, run_dir, child), name=key)
        process.start()
        try:
            if not parent.poll(300):
                raise RuntimeError(f"{key} gave no result within 300 s")
            first_s, last_s = parent.recv()
        finally:
            process.join(120)
            if process.exitcode is None:
                process.kill()  # by its PID
        firsts.setdefault(key, []).append(first_s)
        return last_s

    return sample


def run(rounds: int = 3) -> list[Figure]:
    firsts: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp:
        small = Rounds(
            rounds,
            {s: cold(s, SMALL, Path(tmp), firsts) for s in ("two", "one", "engine")},
            rotate=True,
        )
        large = Rounds(
            rounds, {s: cold(s, LARGE, Path(tmp), firsts) for s in ("two", "one")}, rotate=True
        )
    first = Rounds.of({"fed": firsts[f"one-{SMALL}"], "engine": firsts[f"engine-{SMALL}"]})
    return [
        *(
            burst.figure(
                f"burst of {tasks} x sleep({SLEEP_S}) from open: two local sites (2+1 workers)"
                " / the 2-worker site alone",
                "two",
                "one",
                "s",
                0.95,
                higher=False,
            )
            for burst, tasks in ((small, SMALL), (large, LARGE))
        ),
        first.figure(
            "time to first result from open: Federation(1 local site) / raw GlobusComputeEngine",
            "fed",
            "engine",
            "s",
            1.1,
            higher=False,
        ),
    ]
