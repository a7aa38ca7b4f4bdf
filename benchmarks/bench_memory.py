"""Client memory for a 10,000-task fanout (target: peak RSS under 300 MB).

The client holds every logical task (its call, future and attempts) until the run ends;
this measures the federation's resident set at the end of a 10,000-task map over the
embedded local site, against a ceiling of 300 MB.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import psutil

from benchmarks.figures import Figure
from chiltepin.federation import Federation

TASKS = 10_000


def noop(x: int) -> int:
    return x


def run(tasks: int = TASKS) -> list[Figure]:
    process = psutil.Process()
    sites = {"local": {"kind": "local", "site": "localhost"}}
    with (
        tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp,
        Federation(sites, run_dir=Path(tmp), progress=False) as federation,
    ):
        results = list(federation.map(noop, range(tasks)))
        rss_mb = process.memory_info().rss / 1e6
    assert results == list(range(tasks))
    return [
        Figure(
            f"client RSS after a {tasks:,}-task fanout (ceiling 300 MB)",
            rss_mb,
            300.0,
            "MB",
            1.0,
            higher=False,
            absolute=True,
        )
    ]
