"""The embedded engine's logs do not grow with its tasks, unless the site asks for debug.

At Parsl's default level every HTEX worker writes three lines for each task, which made
the logs two thirds of a long run's directory (~565 B a task). A few hundred no-ops show
the difference: at the default level the workers' logs stay as they were after start-up;
with ``engine_debug`` (a site key, ``--set engine_debug=true`` or a sites file's ``set``)
every task is there again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chiltepin.embedded import EmbeddedEngine
from chiltepin.errors import ConfigError
from chiltepin.sites.loader import load_site

TASKS = 200


def noop(x: int) -> int:
    return x


def _run(engine: EmbeddedEngine, tasks: int) -> None:
    futures = [engine.submit(noop, i) for i in range(tasks)]
    assert [f.result(timeout=60) for f in futures] == list(range(tasks))


def _worker_logs(run_dir: Path) -> list[Path]:
    logs = sorted(run_dir.rglob("worker_*.log"))
    assert logs, f"no worker log under {run_dir}: Parsl writes them elsewhere now"
    return logs


def _log_bytes(run_dir: Path) -> int:
    """Bytes of every log the engine wrote (interchange, managers, workers)."""
    return sum(path.stat().st_size for path in run_dir.rglob("*.log"))


def test_worker_logs_do_not_grow_per_task_at_the_default_level(tmp_path: Path) -> None:
    with EmbeddedEngine(load_site("localhost"), run_dir=tmp_path) as engine:
        _run(engine, 20)  # workers up, whatever they log at start logged
        before = _log_bytes(tmp_path)
        _run(engine, TASKS)
        grown = _log_bytes(tmp_path) - before
    assert len(_worker_logs(tmp_path)) >= 1
    # At Parsl's INFO this is ~560 B a task (~110 kB here); a warning or two may come.
    assert grown < TASKS, f"the engine's logs grew {grown} B over {TASKS} tasks"


def test_engine_debug_logs_every_task_again(tmp_path: Path) -> None:
    site = load_site("localhost", ["engine_debug=true"])
    with EmbeddedEngine(site, run_dir=tmp_path) as engine:
        assert "worker_debug: true" in engine.rendered_config
        _run(engine, 20)
    logged = "".join(path.read_text() for path in _worker_logs(tmp_path))
    assert logged.count("Received executor task") == 20
    assert "DEBUG" in logged


def test_engine_debug_is_validated() -> None:
    assert "worker_debug" not in EmbeddedEngine(load_site("localhost")).rendered_config
    with pytest.raises(ConfigError, match="engine_debug"):
        load_site("localhost", ["engine_debug=loud"])
