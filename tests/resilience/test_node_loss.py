"""Scenario 1: a Slurm node dies mid-run.

The node's slurmd and every process of its job step (the block's worker pool and the
tasks in it) are SIGKILLed, as when a node panics or loses power. The endpoint's
interchange stops hearing the pool's heartbeats, declares the manager lost after the
site's ``worker_heartbeat_threshold`` (12 s here) and the engine resubmits the tasks
that were on it (``max_retries_on_system_failure``) to the blocks that are left. The run
completes with every result once; the other blocks keep running through it.
"""

from __future__ import annotations

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
)

pytestmark = [pytest.mark.slurm, pytest.mark.rabbitmq]

TASKS = 30
SECONDS = 2.0


def test_node_loss_retries_its_tasks_on_the_other_blocks(
    site: ResilienceSite, ledger: Ledger, tmp_path: Path
) -> None:
    cluster = site.cluster
    run_dir = tmp_path / "run"
    victim_node = None
    try:
        with site.federation(run_dir, {"max_blocks": 3}) as fed:
            futures = [fed.submit(tasks.record, str(ledger), i, SECONDS) for i in range(TASKS)]
            ledger.wait(
                lambda led: len({e["job"] for e in led.events("start")}) >= 3,
                timeout=COLD_START_S,
                what="three blocks running tasks",
            )
            starts = ledger.events("start")
            done = {e["i"] for e in ledger.events("done")}
            busy = {e["job"]: e["node"] for e in starts if e["i"] not in done}
            victim_job, victim_node = sorted(busy.items())[0]
            survivors = sorted(set(site.running_jobs()) - {victim_job})
            in_flight = {e["i"] for e in starts if e["job"] == victim_job and e["i"] not in done}
            fault_at = time.time()
            cluster.kill_node(victim_node)
            results = [f.result(timeout=180) for f in futures]
            finished_at = time.time()
            survivor_states = {j: cluster.job_info(j).get("JobState") for j in survivors}
            summary = fed.summary()[0]
    finally:
        if victim_node is not None:
            cluster.restart_node(victim_node)

    # Recovered: every task the node took with it runs again on another block.
    restarted_at = max(
        e["start"] for e in ledger.events("start") if e["i"] in in_flight and e["job"] != victim_job
    )
    detected = managers_lost_at(site, fault_at, finished_at)
    noticed = f"{detected[0] - fault_at:.1f} s" if detected else "never"
    assert_exactly_once(
        results,
        range(TASKS),
        ledger=ledger,
        run_dir=run_dir,
        scenario="node loss",
        fault=f"slurmd + job step of {victim_node} SIGKILLed with {len(in_flight)} tasks on it;"
        f" its workers declared lost after {noticed}",
        recovery_s=restarted_at - fault_at,
    )
    assert in_flight, "the node that was killed ran no task"
    assert len(detected) == 1, "exactly the dead node's manager is declared lost"
    done_on = {e["i"]: e["job"] for e in ledger.events("done")}
    assert all(done_on[i] != victim_job for i in in_flight)
    # The other blocks were untouched: the same jobs, still running.
    assert survivor_states == dict.fromkeys(survivors, "RUNNING"), survivor_states
    # Retried inside the endpoint: the federation never had to resubmit anything.
    assert summary.retries == 0 and summary.late == 0
