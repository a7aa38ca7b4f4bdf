"""The client's cost per task: ``Federation.map`` on one local site ÷ raw Parsl HTEX apps.

Same machine, same two workers, the same no-op (``bench_local_throughput.noop``, by
reference), ``TASKS`` of them per measurement: what is left between the two is what the
federation's client does per task (serialising, journalling, the probe wrapper, binder
bookkeeping, futures, threads), which on a small host competes with the workers.
Target: ≥ 0.95. The raw GlobusComputeEngine the local site runs takes its turns too:
Federation ÷ engine is chiltepin's own cost per task, engine ÷ HTEX the engine's, which
no change to the client can take back.

Each stack runs in a process of its own and they take turns in rotating order (ABC, BCA,
CAB, …; :class:`~benchmarks.figures.Rounds` with ``rotate``); the figure is the median of
the rounds' own ratios, with their spread in its note.

To compare two versions of the client in one run (same machine, same minutes), give
another source tree: its federation joins the rotation as a third stack, and a second
figure compares it with the same HTEX rounds::

    python -m benchmarks.bench_per_task --tasks 5000 --before /work/main

``CHILTEPIN_BENCH_PER_TASK_N`` sets the tasks for ``./dev bench per_task`` (quick runs).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path

from benchmarks.bench_local_throughput import STACKS
from benchmarks.bench_local_throughput import serve as serve_stack
from benchmarks.figures import Figure
from benchmarks.served import rounds_in_processes

TASKS = int(os.environ.get("CHILTEPIN_BENCH_PER_TASK_N", "20000"))
ROUNDS = 3
TARGET = 0.95
START_S = 300


def serve(stack: str, tree: str | None, tasks: int, run_dir: str, conn: Connection) -> None:
    """:func:`benchmarks.bench_local_throughput.serve`, importing chiltepin (here and in
    its workers) from ``tree`` when given (default: this one)."""
    if tree is not None:
        sys.path.insert(0, tree)
        os.environ["PYTHONPATH"] = os.pathsep.join([tree, os.environ.get("PYTHONPATH", "")])
    serve_stack(stack, tasks, run_dir, conn)


def run(tasks: int = TASKS, rounds: int = ROUNDS, before: str | None = None) -> list[Figure]:
    """The figure; with ``before`` (a source tree), also that tree's federation ÷ HTEX in
    the same rounds."""
    candidates: dict[str, tuple[str, str | None]] = {name: (name, None) for name in STACKS}
    if before is not None:
        candidates["before"] = ("fed", before)
    with tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp:
        measured = rounds_in_processes(
            serve,
            {
                n: (stack, tree, tasks, str(Path(tmp) / n))
                for n, (stack, tree) in candidates.items()
            },
            rounds,
            start_s=START_S,
            rotate=True,
        )
    name = f"no-op tasks/s: Federation.map(1 local site) / raw Parsl HTEX apps, {tasks}"
    figures = [
        measured.figure(name, "fed", "htex", "tasks/s", TARGET),
        measured.figure(
            f"no-op tasks/s: Federation.map(1 local site) / the raw GlobusComputeEngine it runs,"
            f" {tasks}",
            "fed",
            "engine",
            "tasks/s",
            TARGET,
        ),
    ]
    if before is not None:
        figures.append(measured.figure(f"{name} ({before})", "before", "htex", "tasks/s", TARGET))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--before", help="another chiltepin source tree, measured beside")
    args = parser.parse_args()
    for figure in run(args.tasks, args.rounds, args.before):
        print(f"{figure.name}: {figure.ratio:.3f} ({figure.note})")
        print(f"    {figure.value:.0f} / {figure.baseline:.0f} tasks/s (medians)")


if __name__ == "__main__":
    main()
