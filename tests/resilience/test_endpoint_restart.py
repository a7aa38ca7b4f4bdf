"""Scenario 5: an endpoint is stopped and started again mid-run.

``chiltepin endpoint stop`` then ``chiltepin endpoint start`` (the commands an operator
runs to pick up a new configuration) while the endpoint holds tasks: some running on
its workers, the rest waiting for a worker. The restart is shorter than the site's
``offline_grace_s``, so the federation does not fail over: the restarted endpoint must
finish what was queued for it, and every task must come back once.

A user endpoint takes every task queued for it as soon as its engine accepts it and
acknowledges it to the broker, so the tasks it held die with it; the federation saw the
endpoint announce its stop (``heartbeat_period: 0`` in the status details) and re-places
what was in flight then, once the endpoint is back.
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from chiltepin.cli.main import cli
from tests.resilience import tasks
from tests.resilience.conftest import Ledger, ResilienceSite, journal_counts, report

pytestmark = [pytest.mark.slurm, pytest.mark.rabbitmq]

TASKS = 24
SECONDS = 1.0
RECOVERY_S = 45.0  # the restarted endpoint has this long to finish the rest


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_endpoint_restart_mid_run_loses_nothing(
    site: ResilienceSite, ledger: Ledger, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    fed = site.federation(run_dir, {"max_blocks": 1}, grace_s=120)
    try:
        futures = [fed.submit(tasks.record, str(ledger), i, SECONDS) for i in range(TASKS)]
        ledger.wait(lambda led: len(led.events("done")) >= 4, timeout=120, what="4 results")
        old = site.processes()
        before = set(site.endpoint.seen)
        stopped_at = time.time()
        invoke("endpoint", "stop", site.name)
        left = [
            p
            for p in before
            if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        ]
        jobs_after_stop = site.cluster.jobs()
        # Tasks still waiting in the broker for the stopped endpoint (the rest it had
        # taken, acknowledged, and lost when it stopped).
        queued = sum(
            site.standin.bridge.queue_depth(f"{uep.endpoint_id}.tasks") or 0
            for uep in site.standin.user_endpoints(site.endpoint_id)
        )
        invoke("endpoint", "start", site.name)
        site.standin.wait_for_endpoint(site.endpoint_id, timeout=60)
        restarted_at = time.time()
        finished, _ = concurrent.futures.wait(futures, timeout=RECOVERY_S)
        results = sorted(f.result() for f in finished)
        summary = fed.summary()[0]
    finally:
        fed.shutdown(wait=False, cancel_futures=True)
    after = [e["t"] for e in ledger.events("done") if e["t"] >= restarted_at]
    lost, reran = ledger.lost(range(TASKS)), ledger.duplicated()
    outcomes, successes, twice = journal_counts(run_dir)
    report(
        "endpoint restart",
        f"`chiltepin endpoint stop` + `start`, {TASKS - len(finished)} of {TASKS} tasks"
        f" unresolved {RECOVERY_S:.0f} s after; {queued} were still queued at the stop",
        min(after) - stopped_at if after else None,
        lost=TASKS - len(finished),
        duplicated=twice,
        reran=len(reran),
        federation_retries=summary.retries,
    )
    assert old["user_endpoints"], "no user endpoint ran before the restart"
    assert left == [], f"processes of the stopped endpoint still alive: {left}"
    assert jobs_after_stop == [], f"Slurm jobs left by the stopped endpoint: {jobs_after_stop}"
    assert results == list(range(TASKS)), f"{TASKS - len(results)} tasks lost"
    assert lost == [] and twice == 0
    assert (outcomes, successes) == (TASKS, TASKS)
