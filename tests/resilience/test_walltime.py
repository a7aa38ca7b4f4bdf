"""Scenario 3: blocks whose walltime is shorter than the run.

Slurm's shortest walltime is one minute (``--time`` is kept in minutes: ``0:20`` becomes
``00:01:00``), and slurmctld checks time limits every 30 s (``PERIODIC_TIMEOUT``, not a
slurm.conf setting), so a one-minute job is killed 60-90 s after it starts (then
``KillWait``, 2 s here, before SIGKILL). That cannot be scaled down: this scenario takes
one real walltime, about a minute and a half.

Blocks get ``walltime: 00:01:00``; the site's ``drain_margin`` (20 s here) makes
each block's workers stop taking tasks 40 s after they start. Tasks of variable
duration keep the run going for longer than a walltime, so:

* drained blocks end early and new blocks replace them;
* no task starts on a block within ``drain_margin`` of its walltime;
* one task overruns (its first attempt would take 5 minutes): Slurm kills its block at
  the walltime, the interchange declares the block's workers lost, and the engine runs
  the task again on a fresh block, where it fits. The caller gets its value; nobody
  sees an error.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.resilience import tasks
from tests.resilience.conftest import Ledger, ResilienceSite, assert_exactly_once

pytestmark = [pytest.mark.slurm, pytest.mark.rabbitmq]

WALLTIME_S = 60
DRAIN_MARGIN_S = 20  # SITE_TOLERANCE's tolerance.drain_margin
DURATIONS = [0.5, 1.0, 2.0, 3.0, 4.0, 1.5, 2.5, 0.5, 3.5, 1.0]  # mean 2 s
TASKS = 1 + 70  # the overrunning task, then 140 s of work: more than 3 workers do in 40 s


def test_blocks_expire_drain_and_a_task_cut_by_walltime_is_retried(
    site: ResilienceSite, ledger: Ledger, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    options = {"walltime": "00:01:00", "max_blocks": 2}
    with site.federation(run_dir, options) as fed:
        overrun = fed.submit(tasks.overrun_once, str(ledger), 0, 300.0, 2.0)
        futures = [
            fed.submit(tasks.record, str(ledger), i, DURATIONS[i % len(DURATIONS)])
            for i in range(1, TASKS)
        ]
        results = [overrun.result(timeout=240)] + [f.result(timeout=240) for f in futures]
        finished_at = time.time()
        summary = fed.summary()[0]

    starts, done = ledger.events("start"), ledger.events("done")
    jobs = sorted({e["job"] for e in starts}, key=int)
    states = {job: site.cluster.job_info(job).get("JobState") for job in jobs}
    cut_job = next(e["job"] for e in starts if e["i"] == 0)
    cut_info = site.cluster.job_info(cut_job)
    cut_at = time.mktime(time.strptime(cut_info["EndTime"], "%Y-%m-%dT%H:%M:%S"))
    rerun = [e for e in done if e["i"] == 0]
    assert_exactly_once(
        results,
        range(TASKS),
        ledger=ledger,
        run_dir=run_dir,
        scenario="walltime",
        fault=f"block {cut_job} killed by Slurm's time limit (1 min) with a task on it;"
        f" {len(jobs)} blocks in {finished_at - starts[0]['start']:.0f} s",
        recovery_s=rerun[0]["t"] - cut_at if rerun else None,
    )

    # The task cut by walltime ran again elsewhere; the caller never saw a failure.
    assert states[cut_job] == "TIMEOUT", states
    assert [e["job"] for e in starts if e["i"] == 0][1:] and rerun[0]["job"] != cut_job
    assert summary.failed == 0 and summary.retries == 0

    # New blocks replaced expiring ones: the run outlived a walltime, on more blocks
    # than run at once; the others ended by draining (or still run), not by time limit.
    assert finished_at - starts[0]["start"] > WALLTIME_S
    assert len(jobs) > options["max_blocks"]
    assert "COMPLETED" in states.values(), states
    assert {s for job, s in states.items() if job != cut_job} <= {"COMPLETED", "RUNNING"}, states
    assert "is drained - telling manager to shutdown" in site.interchange_logs()

    # Drain: no task starts so close to its block's walltime that the walltime could cut
    # it, counted (as Parsl counts it) from the start of the block's worker pool. Parsl
    # drains a pool drain_margin before the walltime from the moment its manager reads
    # the clock, and a task dispatched just before that starts when its worker gets to
    # it: each can lag by seconds on a loaded host (two suites side by side on 2 cores:
    # 43.2 s against the drain's 40 s). Half the margin is kept whatever the load; with
    # no drain, this run's steady work starts tasks up to the walltime itself.
    late = [
        (e["i"], e["job"], round(e["start"] - e["pool"], 1))
        for e in starts
        if e["start"] - e["pool"] > WALLTIME_S - DRAIN_MARGIN_S / 2
    ]
    assert late == [], f"tasks started too close to their block's walltime: {late}"
