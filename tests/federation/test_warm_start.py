"""Warm start: every site starts getting ready as the federation opens, at once, once;
``warm=False`` starts a site on its first task; either way nothing is left running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chiltepin.embedded import PROCESS_RECORD
from chiltepin.errors import ConfigError
from chiltepin.federation import Federation
from chiltepin.federation.backends import LocalBackend
from chiltepin.system import processes
from chiltepin.system.waiting import wait_until
from tests.federation import tasks

FAST = ["tolerance.worker_heartbeat_period=1", "tolerance.worker_heartbeat_threshold=3"]


def sites() -> dict[str, dict]:
    return {
        name: {
            "kind": "local",
            "site": "localhost",
            "set": FAST,
            "options": {"max_workers_per_node": workers},
        }
        for name, workers in (("a", 2), ("b", 1))
    }


def local(fed: Federation) -> dict[str, LocalBackend]:
    backends = {b.name: b for b in fed.backends}
    assert all(isinstance(b, LocalBackend) for b in backends.values())
    return backends  # type: ignore[return-value]  # checked just above


def recorded(run_dir: Path) -> list[tuple[int, float]]:
    """Every process the run's engines recorded starting: (PID, start time)."""
    return [
        (entry["pid"], entry["started"])
        for record in run_dir.rglob(PROCESS_RECORD)
        for entry in json.loads(record.read_text())
    ]


def test_every_site_starts_at_open_once_and_leaves_nothing(tmp_path: Path) -> None:
    with Federation(sites(), run_dir=tmp_path, progress=False) as fed:
        backends = local(fed)
        # No task yet: both sites' engines start by themselves, each in a thread of its
        # own (one after the other on first use, their start-ups would add up).
        wait_until(
            lambda: all(b.engines_started == 1 for b in backends.values()),
            60,
            what="both sites' engines started before any task",
        )
        assert fed.summary()[0].tasks == 0
        assert list(fed.map(tasks.square, range(12))) == [x * x for x in range(12)]
        assert {name: b.engines_started for name, b in backends.items()} == {"a": 1, "b": 1}
    started = recorded(tmp_path)
    assert len({pid for pid, _ in started}) >= 2  # each engine recorded its processes
    wait_until(
        lambda: not [pid for pid, at in started if processes.alive(pid, at)],
        15,
        what="every process the engines started to be gone after shutdown",
    )


def test_warm_false_starts_a_site_on_its_first_task_only(tmp_path: Path) -> None:
    with Federation(sites(), run_dir=tmp_path, progress=False, warm=False) as fed:
        backends = local(fed)
        assert fed.submit(tasks.square, 3, site="a").result(60) == 9
        assert {name: b.engines_started for name, b in backends.items()} == {"a": 1, "b": 0}
        assert backends["b"].live_workers is None
    assert not list((tmp_path / "engines").glob("b/*"))


def test_a_federation_shut_at_once_stops_the_engines_it_was_starting(tmp_path: Path) -> None:
    Federation(sites(), run_dir=tmp_path, progress=False).shutdown()
    started = recorded(tmp_path)
    wait_until(
        lambda: not [pid for pid, at in started if processes.alive(pid, at)],
        15,
        what="engines started while opening to be stopped by the shutdown",
    )


def test_warm_is_checked_with_the_other_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="warm"):
        Federation(sites(), run_dir=tmp_path, progress=False, warm="sometimes")  # type: ignore[arg-type]
