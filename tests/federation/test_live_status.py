"""The live status a run writes into its journal, from a real embedded engine: a local
site's workers, how many of them are idle, and its blocks, as Parsl and the interchange
report them."""

from __future__ import annotations

from pathlib import Path

from chiltepin.federation import Federation
from chiltepin.federation.journal import events
from chiltepin.federation.journal_format import SiteStatus, StatusEvent
from chiltepin.system.waiting import wait_until
from tests.federation import tasks
from tests.federation.test_local_federation import FAST

WORKERS = 2


def last_status(run_dir: Path, site: str) -> SiteStatus | None:
    """``site`` as the run's latest status event says."""
    latest = None
    for event in events(run_dir):
        if isinstance(event, StatusEvent):
            latest = next((s for s in event.sites if s.site == site), latest)
    return latest


def test_a_local_sites_status_shows_idle_workers_fall_as_tasks_run_and_its_blocks(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    site = {
        "kind": "local",
        "site": "localhost",
        "set": FAST,
        "options": {"max_workers_per_node": WORKERS},
    }
    release = tmp_path / "release"
    with Federation({"here": site}, run_dir=run_dir, progress=False) as fed:
        assert fed.submit(tasks.square, 3).result(120) == 9  # starts the engine

        def shows(idle: int) -> SiteStatus | None:
            status = last_status(run_dir, "here")
            wanted = (
                status is not None
                and status.workers == WORKERS
                and status.idle == idle
                and (status.blocks_running or 0) >= 1
            )
            return status if wanted else None

        quiet = wait_until(lambda: shows(WORKERS), 60, what="every worker idle, a block running")
        assert quiet.blocks_pending == 0
        busy = fed.submit(tasks.wait_for, str(release), 1)
        running = wait_until(lambda: shows(WORKERS - 1), 30, what="one worker busy")
        assert running.outstanding == 1 and running.blocks_running == quiet.blocks_running
        release.touch()
        assert busy.result(60) == 1
        wait_until(lambda: shows(WORKERS), 30, what="every worker idle again")
