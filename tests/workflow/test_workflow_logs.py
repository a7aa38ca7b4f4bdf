"""A Workflow's Parsl logs do not grow with its tasks, unless a site asks for debug.

Parsl's default writes ``parsl.log`` at DEBUG, several lines for every task, and its HTEX
workers log each task they run. A Workflow hands the DataFlowKernel a warnings-only log
config, which the DataFlowKernel passes to every local site's executor; a site's
``engine_debug`` brings DEBUG back, every task included.
"""

from __future__ import annotations

from pathlib import Path

from chiltepin.workflow import Workflow
from tests.workflow import tasks

TASKS = 200


def sites(*overrides: str) -> dict[str, dict]:
    site = {"kind": "local", "site": "localhost", "options": {"max_workers_per_node": 2}}
    return {"here": {**site, "set": list(overrides)}}


def run(count: int) -> None:
    futures = [tasks.add(i, 1) for i in range(count)]
    assert [f.result(60) for f in futures] == [i + 1 for i in range(count)]


def logs(run_dir: Path, pattern: str = "*.log") -> list[Path]:
    """``parsl.log`` and the local site's interchange, manager and worker logs."""
    found = sorted(run_dir.rglob(pattern))
    assert found, f"no {pattern} under {run_dir}: Parsl writes them elsewhere now"
    return found


def size(paths: list[Path]) -> int:
    return sum(path.stat().st_size for path in paths)


def test_a_workflows_logs_do_not_grow_per_task(tmp_path: Path) -> None:
    with Workflow(sites(), run_dir=tmp_path):
        run(20)  # workers up, whatever they log at start logged
        before = size(logs(tmp_path))
        run(TASKS)
        grown = size(logs(tmp_path)) - before
    assert logs(tmp_path, "parsl.log") and logs(tmp_path, "worker_*.log")
    # At Parsl's defaults this is over a kilobyte a task; a warning or two may come.
    assert grown < TASKS, f"the workflow's logs grew {grown} B over {TASKS} tasks"


def test_engine_debug_brings_parsls_debug_logs_back(tmp_path: Path) -> None:
    with Workflow(sites("engine_debug=true"), run_dir=tmp_path):
        run(20)
    assert " DEBUG: " in "".join(p.read_text() for p in logs(tmp_path, "parsl.log"))
    workers = "".join(p.read_text() for p in logs(tmp_path, "worker_*.log"))
    assert workers.count("Received executor task") == 20
