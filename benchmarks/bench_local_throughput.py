"""No-op throughput of the federation over one local site, against the raw stacks it wraps.

Same machine, same worker count (2), same no-op: a Federation over the ``localhost``
site, the raw GlobusComputeEngine that site renders to, and raw Parsl HTEX with a
LocalProvider. Targets: Federation / engine >= 0.9, Federation / HTEX >= 0.8.
"""

from __future__ import annotations

import concurrent.futures
import tempfile
from pathlib import Path

import parsl
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider

from benchmarks.figures import Figure, interleaved_medians, rate
from chiltepin.embedded import EmbeddedEngine, console_scripts_on_path
from chiltepin.federation import Federation
from chiltepin.sites.loader import load_site

TASKS = 2000
WORKERS = 2


def noop(x: int) -> int:
    return x


def run(tasks: int = TASKS, rounds: int = 5) -> list[Figure]:
    console_scripts_on_path()
    options = {"max_workers_per_node": WORKERS}
    sites = {"local": {"kind": "local", "site": "localhost", "options": options}}
    with tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp:
        htex = HighThroughputExecutor(
            label="htex",
            max_workers_per_node=WORKERS,
            address="127.0.0.1",
            provider=LocalProvider(init_blocks=1, max_blocks=1),
        )
        app = parsl.python_app(noop, executors=["htex"])
        with (
            EmbeddedEngine(load_site("localhost"), options, run_dir=Path(tmp) / "raw") as engine,
            Federation(sites, run_dir=Path(tmp) / "fed", progress=False) as federation,
            parsl.load(Config(executors=[htex], run_dir=str(Path(tmp) / "parsl"))),
        ):
            engine.submit(noop, 0).result(60)
            list(federation.map(noop, range(10)))
            app(0).result()

            def raw_engine() -> None:
                concurrent.futures.wait([engine.submit(noop, i) for i in range(tasks)])

            def raw_htex() -> None:
                concurrent.futures.wait([app(i) for i in range(tasks)])

            medians = interleaved_medians(
                rounds,
                {
                    "engine": lambda: rate(tasks, raw_engine),
                    "htex": lambda: rate(tasks, raw_htex),
                    "fed": lambda: rate(tasks, lambda: list(federation.map(noop, range(tasks)))),
                },
            )
        parsl.clear()
    return [
        Figure(
            f"no-op tasks/s: Federation(1 local site) / raw GlobusComputeEngine, {tasks}",
            medians["fed"],
            medians["engine"],
            "tasks/s",
            0.9,
        ),
        Figure(
            f"no-op tasks/s: Federation(1 local site) / raw Parsl HTEX, {tasks}",
            medians["fed"],
            medians["htex"],
            "tasks/s",
            0.8,
        ),
    ]
