"""Federation over embedded local sites: placement, errors, failover, exactly once."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest
from globus_compute_sdk.errors import TaskExecutionFailed

from chiltepin.errors import ChiltepinError, ConfigError
from chiltepin.federation import Federation, PayloadTooLarge
from chiltepin.federation.journal import read_journal
from tests.federation import tasks
from tests.federation.journal_lines import task_lines

FAST = ["tolerance.worker_heartbeat_period=1", "tolerance.worker_heartbeat_threshold=3"]


def two_sites(workers_a: int = 2, workers_b: int = 1, **extra: object) -> dict:
    return {
        "big": {
            "kind": "local",
            "site": "localhost",
            "set": FAST,
            "tags": ["gpu"],
            "options": {"max_workers_per_node": workers_a},
            **extra,
        },
        "small": {
            "kind": "local",
            "site": "localhost",
            "set": FAST,
            "options": {"max_workers_per_node": workers_b},
        },
    }


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Federation:
    run_dir = tmp_path_factory.mktemp("run")
    with Federation(two_sites(), run_dir=run_dir, progress=False) as fed:
        yield fed


def test_map_returns_results_in_input_order(federation: Federation) -> None:
    assert list(federation.map(tasks.square, range(60))) == [x * x for x in range(60)]


def test_capacity_policy_shares_by_capacity(federation: Federation) -> None:
    before = {c.site: c.tasks for c in federation.summary()}
    list(federation.map(tasks.square, range(90), policy="capacity"))
    placed = {c.site: c.tasks - before[c.site] for c in federation.summary()}
    assert placed == {"big": 60, "small": 30}  # capacities 2 : 1


def test_round_robin_and_least_loaded(federation: Federation) -> None:
    before = {c.site: c.tasks for c in federation.summary()}
    list(federation.map(tasks.square, range(40), policy="round_robin"))
    placed = {c.site: c.tasks - before[c.site] for c in federation.summary()}
    assert placed == {"big": 20, "small": 20}
    futures = [federation.submit(tasks.nap, i, 0.2) for i in range(6)]
    assert sorted(f.result(60) for f in futures) == list(range(6))


def test_pinned_site_and_tags(federation: Federation) -> None:
    pinned = [federation.submit(tasks.square, i, site="small") for i in range(5)]
    assert {f.result(60) for f in pinned} == {0, 1, 4, 9, 16}
    assert {f.site for f in pinned} == {"small"}
    tagged = [federation.submit(tasks.square, i, tags=["gpu"]) for i in range(5)]
    [f.result(60) for f in tagged]
    assert {f.site for f in tagged} == {"big"}
    restricted = list(federation.map(tasks.where, range(6), sites=["small"]))
    assert [x for x, _ in restricted] == list(range(6))


def test_user_exception_is_raised_once_and_not_retried(federation: Federation) -> None:
    future = federation.submit(tasks.fail_once_per_call, 7)
    with pytest.raises(TaskExecutionFailed, match="ValueError: user error 7"):
        future.result(60)
    assert future.attempts == 1


def test_clear_errors_before_anything_is_submitted(federation: Federation) -> None:
    journal = federation.run_dir / "journal.jsonl"
    lines = task_lines(journal)
    with pytest.raises(ChiltepinError, match="unknown site 'smal' \\(did you mean 'small'\\?\\)"):
        federation.submit(tasks.square, 1, site="smal")
    with pytest.raises(ChiltepinError, match="no site has tag\\(s\\) tpu; tags offered:"):
        federation.submit(tasks.square, 1, tags=["tpu"])
    with pytest.raises(PayloadTooLarge, match=r"largest part: argument 0.*at most 10 MB"):
        federation.submit(tasks.square, b"x" * 11_000_000)
    with pytest.raises(ConfigError, match=r"resources: nodes: .*greater than or equal to 1"):
        federation.submit(tasks.square, 1, resources={"nodes": 0})
    with pytest.raises(ConfigError, match="unknown key \\(did you mean 'walltime'\\?\\)"):
        federation.submit(tasks.square, 1, resources={"waltime": "00:10:00"})
    assert task_lines(journal) == lines  # nothing was submitted


def test_unknown_option_in_sites_is_refused() -> None:
    bad = {"x": {"kind": "local", "site": "localhost", "options": {"partition": "debug"}}}
    with pytest.raises(ConfigError, match=r"sites\.x: unknown option 'partition'"):
        Federation(bad, progress=False)


def _kill_workers(federation: Federation, site: str) -> int:
    """SIGKILL the worker pools of one local site's engines, by the PIDs its provider records."""
    backend = federation.placement.backends[site]
    killed = 0
    for engine in backend._engines.values():
        for job in engine.engine.executor.provider.resources.values():
            os.killpg(os.getpgid(job["remote_pid"]), signal.SIGKILL)
            killed += 1
    return killed


def test_site_failure_fails_over_and_every_task_resolves_exactly_once(tmp_path: Path) -> None:
    sites = two_sites(set=[*FAST, "tolerance.max_retries_on_system_failure=0"])
    with Federation(sites, run_dir=tmp_path / "run", progress=False, policy="round_robin") as fed:
        warm = list(fed.map(tasks.square, range(4)))  # both engines up
        assert warm == [0, 1, 4, 9]
        futures = [fed.submit(tasks.nap, i, 1.0) for i in range(8)]
        assert _kill_workers(fed, "big") >= 1
        assert sorted(f.result(120) for f in futures) == list(range(8))
        summary = {c.site: c for c in fed.summary()}
    assert summary["big"].failovers >= 1
    moved = [f for f in futures if f.attempts > 1]
    assert moved and all(f.site == "small" for f in moved)
    record = read_journal(tmp_path / "run")
    outcomes = Counter(t.id for t in record.tasks.values() if t.outcome)
    assert all(n == 1 for n in outcomes.values())
