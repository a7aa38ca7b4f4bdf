"""Scenario 2: the interconnect between a block's workers and their endpoint stops.

The block's worker pool is frozen for real: every process of its job step (the batch
script, the pool, its workers; not ``slurmstepd``) gets SIGSTOP, and SIGCONT
``OUTAGE_S`` seconds later. For that long nothing reaches the interchange from the pool
and nothing from the interchange reaches the pool: the same silence a network outage
makes, on both sides.

The outage (8 s, a 4-minute one at the 30x scale of these tests) is longer than the
upstream heartbeat threshold (Parsl's 120 s, scaled to 4 s) and shorter than the
site's (360 s on HPC sites, scaled to 12 s): with the site's tolerance every task
completes on the same workers, each exactly once; with the upstream threshold the same
outage loses the workers, and their tasks run again elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from tests.resilience import tasks
from tests.resilience.conftest import (
    COLD_START_S,
    Ledger,
    ResilienceSite,
    assert_exactly_once,
    managers_lost_at,
    worker_processes,
)

pytestmark = [pytest.mark.slurm, pytest.mark.rabbitmq]

TASKS = 4
SECONDS = 3.0
OUTAGE_S = 8.0


def freeze_block(site: ResilienceSite, ledger: Ledger) -> tuple[str, set[int], float, float]:
    """Once two tasks run, SIGSTOP their block's job step for ``OUTAGE_S`` seconds.

    Returns the block's job, the tasks it was running, and when the outage began/ended.
    """
    ledger.wait(
        lambda led: len(led.events("start")) >= 2, timeout=COLD_START_S, what="two tasks running"
    )
    job = ledger.events("start")[0]["job"]
    pids = worker_processes(site.cluster)[job]
    stopped_at = time.time()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    frozen = {e["i"] for e in ledger.events("start") if e["job"] == job}
    try:
        time.sleep(OUTAGE_S)
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    return job, frozen, stopped_at, time.time()


def test_outage_shorter_than_the_site_tolerance_loses_nothing(
    site: ResilienceSite, ledger: Ledger, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    with site.federation(run_dir, {"max_blocks": 1}) as fed:
        futures = [fed.submit(tasks.record, str(ledger), i, SECONDS) for i in range(TASKS)]
        job, frozen, stopped_at, _ = freeze_block(site, ledger)
        results = [f.result(timeout=120) for f in futures]
        finished_at = time.time()
        summary = fed.summary()[0]
    # Recovered: the frozen tasks finished, on the workers that were frozen.
    recovered_at = max(e["t"] for e in ledger.events("done") if e["i"] in frozen)
    assert_exactly_once(
        results,
        range(TASKS),
        ledger=ledger,
        run_dir=run_dir,
        scenario="interconnect outage, site tolerance",
        fault=f"block's worker pool SIGSTOPped {OUTAGE_S:.0f} s (heartbeat threshold 12 s)",
        recovery_s=recovered_at - stopped_at,
    )
    assert managers_lost_at(site, stopped_at, finished_at) == []
    # The same workers carried on: one block, and no task was started twice.
    assert {e["job"] for e in ledger.events()} == {job}
    assert sorted(e["i"] for e in ledger.events("start")) == list(range(TASKS))
    assert summary.retries == 0 and summary.late == 0


def test_the_same_outage_with_the_upstream_threshold_loses_the_workers(
    upstream_site: ResilienceSite, ledger: Ledger, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    # Two blocks allowed: the pool that lost its interchange does not always exit (it
    # can hang in its own shutdown and keep its Slurm job), so the tasks run again on a
    # block of their own.
    with upstream_site.federation(run_dir, {"max_blocks": 2}) as fed:
        futures = [fed.submit(tasks.record, str(ledger), i, SECONDS) for i in range(TASKS)]
        job, frozen, stopped_at, resumed_at = freeze_block(upstream_site, ledger)
        results = [f.result(timeout=120) for f in futures]
        finished_at = time.time()
    declared = managers_lost_at(upstream_site, stopped_at, finished_at)
    again = [e for e in ledger.events("done") if e["i"] in frozen and e["job"] != job]
    recovered_at = max((e["t"] for e in again), default=None)
    noticed = f"after {declared[0] - stopped_at:.1f} s" if declared else "never"
    # The contrast: the workers are declared lost in the middle of the outage and every
    # task they held runs again elsewhere; results still arrive once (the endpoint
    # retries, the federation keeps the first), but the work was done twice.
    assert_exactly_once(
        results,
        range(TASKS),
        ledger=ledger,
        run_dir=run_dir,
        scenario="interconnect outage, upstream threshold",
        fault=f"the same {OUTAGE_S:.0f} s freeze, threshold 4 s: workers declared lost {noticed}",
        recovery_s=None if recovered_at is None else recovered_at - stopped_at,
        work_may_repeat=True,
    )
    assert declared and declared[0] < resumed_at
    assert {e["i"] for e in again} == frozen
