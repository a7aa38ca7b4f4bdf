"""No-op throughput of the federation over one local site, against the raw stacks it wraps.

Same machine, same worker count (2), same no-op: a Federation over the ``localhost``
site, the raw GlobusComputeEngine that site renders to, and raw Parsl HTEX with a
LocalProvider. Targets: Federation / engine >= 0.9, Federation / HTEX >= 0.8.

Each stack runs in a process of its own, as a user would run it: in one shared process
the idle stacks' threads took the GIL from the measured one, and the garbage one stack
left (Parsl's task records, say) was collected on another's time. The three processes
take turns, round after round (see :class:`~benchmarks.figures.Rounds`), and each ratio
is the median of the rounds' own ratios.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import tempfile
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from benchmarks.figures import Figure, rate
from benchmarks.served import rounds_in_processes

TASKS = 2000
WORKERS = 2
OPTIONS = {"max_workers_per_node": WORKERS}

Burst = Callable[[int], object]
"""Runs ``n`` no-ops on a started stack and waits for all of them (what it returns is
not looked at)."""


def noop(x: int) -> int:
    return x


@contextlib.contextmanager
def engine_stack(run_dir: Path) -> Iterator[Burst]:
    """The raw GlobusComputeEngine the ``localhost`` site renders to."""
    from chiltepin.embedded import EmbeddedEngine
    from chiltepin.sites.loader import load_site

    with EmbeddedEngine(load_site("localhost"), OPTIONS, run_dir=run_dir) as engine:
        yield lambda n: concurrent.futures.wait([engine.submit(noop, i) for i in range(n)])


@contextlib.contextmanager
def htex_stack(run_dir: Path) -> Iterator[Burst]:
    """Raw Parsl HTEX with a LocalProvider and the same worker count."""
    import parsl
    from parsl.config import Config
    from parsl.executors import HighThroughputExecutor
    from parsl.providers import LocalProvider

    htex = HighThroughputExecutor(
        label="htex",
        max_workers_per_node=WORKERS,
        address="127.0.0.1",
        provider=LocalProvider(init_blocks=1, max_blocks=1),
    )
    app = parsl.python_app(noop, executors=["htex"])
    with parsl.load(Config(executors=[htex], run_dir=str(run_dir))):
        yield lambda n: concurrent.futures.wait([app(i) for i in range(n)])
    parsl.clear()


@contextlib.contextmanager
def federation_stack(run_dir: Path) -> Iterator[Burst]:
    """A Federation over one ``localhost`` site, used as a user would: ``map``."""
    from chiltepin.federation import Federation

    sites = {"local": {"kind": "local", "site": "localhost", "options": OPTIONS}}
    with Federation(sites, run_dir=run_dir, progress=False) as federation:
        yield lambda n: list(federation.map(noop, range(n)))


STACKS: dict[str, Callable[[Path], contextlib.AbstractContextManager[Burst]]] = {
    "engine": engine_stack,
    "htex": htex_stack,
    "fed": federation_stack,
}


def serve(stack: str, tasks: int, run_dir: str, conn: Connection) -> None:
    """A stack's own process: start it, then time one burst each time the parent asks.

    Each timed burst follows an untimed one a tenth its size: a stack that sat idle while
    the others ran starts cold (its processes descheduled, its memory out of the caches),
    and without the warm-up the stack measured twice in a row at a round's turn would be
    favoured.
    """
    from chiltepin.embedded import console_scripts_on_path

    console_scripts_on_path()
    with STACKS[stack](Path(run_dir)) as burst:
        burst(10)  # workers up
        conn.send("ready")
        while conn.recv():
            burst(tasks // 10)
            conn.send(rate(tasks, lambda: burst(tasks)))


def run(tasks: int = TASKS, rounds: int = 9) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp:
        measured = rounds_in_processes(
            serve, {s: (s, tasks, str(Path(tmp) / s)) for s in STACKS}, rounds
        )
    return [
        measured.figure(
            f"no-op tasks/s: Federation(1 local site) / raw GlobusComputeEngine, {tasks}",
            "fed",
            "engine",
            "tasks/s",
            0.9,
        ),
        measured.figure(
            f"no-op tasks/s: Federation(1 local site) / raw Parsl HTEX, {tasks}",
            "fed",
            "htex",
            "tasks/s",
            0.8,
        ),
    ]
