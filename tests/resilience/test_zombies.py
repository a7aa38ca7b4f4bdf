"""Scenario 7: nothing chiltepin started is left running.

After every scenario in this directory the endpoint is stopped with ``chiltepin endpoint
stop`` and checked: no process it started (user endpoints, interchanges), no Slurm job
and no job step (worker pool) may be left, whatever the fault did (see
``SiteFactory.running`` in conftest.py; the session summary counts those stops). The
client-killed scenario's zombies are checked where it lives (``tests/e2e`` and
``tests/federation``: ``stop_and_check``, ``Federation.reattach`` reaping a dead
client's engines).

This module covers the other normal end of a run: the endpoint keeps running, the run
is over, and the site must release what it holds by itself: idle blocks are cancelled
after ``max_idletime`` and the user endpoint exits after ``idle_heartbeats_soft``.

The run's last task is submitted on its own after the others have finished, the way a
workflow's last step is: the service's start request for it reaches the endpoint seconds
before the user endpoint's idle exit. The endpoint keeps a start request for
``tolerance.start_grace_period`` and starts a user endpoint that exits within it again; with
no task that one only exits after ``idle_heartbeats_hard``. The site model keeps the idle
exit at least twice the grace period, so nothing is started again.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.resilience import tasks
from tests.resilience.conftest import Ledger, ResilienceSite, journal_counts, report

pytestmark = [pytest.mark.slurm, pytest.mark.rabbitmq]

TASKS = 12


def test_an_idle_site_releases_its_blocks_and_user_endpoint(
    site: ResilienceSite, ledger: Ledger, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    with site.federation(run_dir, {"max_blocks": 3}) as fed:
        futures = [fed.submit(tasks.record, str(ledger), i, 1.0) for i in range(TASKS - 1)]
        results = [f.result(timeout=120) for f in futures]
        last = TASKS - 1  # the run's last step, alone, once the others are done
        results.append(fed.submit(tasks.record, str(ledger), last, 0.1).result(timeout=120))
    ended_at = time.time()
    blocks = {e["job"] for e in ledger.events("start")}
    held = site.processes()
    released_s = site.wait_until_released(timeout=60)
    outcomes, successes, twice = journal_counts(run_dir)
    report(
        "zombies: idle release",
        f"run over with {len(blocks)} blocks and {len(held['user_endpoints'])} user"
        " endpoint(s) up; all released by the site itself",
        time.time() - ended_at,
        lost=len(ledger.lost(range(TASKS))),
        duplicated=twice,
        reran=len(ledger.duplicated()),
    )
    assert results == list(range(TASKS))
    assert (outcomes, successes) == (TASKS, TASKS)
    assert len(blocks) >= 2 and held["user_endpoints"]
    assert released_s < 60
    assert site.user_endpoint_starts() == 1, "a user endpoint was started again after its run"
