"""No-op throughput: Federation over one local site vs the raw engine it embeds.

Both run the ``localhost`` site's GlobusComputeEngine with the same worker count; the
federation adds placement, the journal and bookkeeping on top. Target: >= 0.9.
"""

from __future__ import annotations

import concurrent.futures
import tempfile
from pathlib import Path

from benchmarks.figures import Figure, interleaved_medians, rate
from chiltepin.embedded import EmbeddedEngine
from chiltepin.federation import Federation
from chiltepin.sites.loader import load_site

TASKS = 2000
WORKERS = 2


def noop(x: int) -> int:
    return x


def run(tasks: int = TASKS, rounds: int = 3) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp:
        options = {"max_workers_per_node": WORKERS}
        sites = {"local": {"kind": "local", "site": "localhost", "options": options}}
        with (
            EmbeddedEngine(load_site("localhost"), options, run_dir=Path(tmp) / "raw") as engine,
            Federation(sites, run_dir=Path(tmp) / "fed", progress=False) as federation,
        ):
            engine.submit(noop, 0).result(60)
            list(federation.map(noop, range(10)))

            def raw() -> None:
                futures = [engine.submit(noop, i) for i in range(tasks)]
                concurrent.futures.wait(futures)

            def fed() -> None:
                list(federation.map(noop, range(tasks)))

            medians = interleaved_medians(
                rounds, {"raw": lambda: rate(tasks, raw), "fed": lambda: rate(tasks, fed)}
            )
    return [
        Figure(
            name=f"no-op tasks/s: Federation(1 local site) / raw GlobusComputeEngine, {tasks}",
            value=medians["fed"],
            baseline=medians["raw"],
            unit="tasks/s",
            target=0.9,
        )
    ]
