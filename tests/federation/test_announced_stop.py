"""An endpoint that announces a stop: what it held goes elsewhere at once, not after the
grace, and if it comes back with its queue intact the first result wins.

The endpoint is a real one (the stand-in's ``localhost`` endpoint, two workers); the
other site is local with one worker. The stand-in reports the endpoint offline with the
``heartbeat_period: 0`` of its last heartbeat while it in fact runs on, as a stop that is
undone looks to a client (an operator's restart with the tasks still queued for it), so
the endpoint finishes everything it was given.

Every task waits for release files the test writes, so nothing depends on how fast the
host is: the endpoint's runs cannot finish before their tasks are moved, and the moved
copies on the local site cannot finish before the endpoint's runs are back. Those come
back first and win; each task resolves exactly once, and every run that lost is counted
as a duplicate.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chiltepin.federation import Federation
from chiltepin.federation.journal import events, read_journal
from chiltepin.federation.journal_format import DoneEvent
from chiltepin.system.waiting import wait_until
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint

pytestmark = pytest.mark.rabbitmq

TASKS = 4
GRACE_S = 300.0  # a failover would wait this long; the announced stop must not
MOVE_S = GRACE_S / 5  # moved well before the grace: "at once", with room for a slow host
HOLD_S = 240.0  # how long a task waits for its release at most (the test writes it)


def held_until_released(i: int, marks: str, releases: str, hold_s: float) -> int:
    """Leave a mark naming this worker's site (``CHILTEPIN_TEST_SITE``), then wait until
    the release file ``<releases>/all`` exists, and on the local site also
    ``<releases>/here`` (``hold_s`` at most)."""
    import os
    import pathlib
    import time

    site = os.environ.get("CHILTEPIN_TEST_SITE", "ep")
    pathlib.Path(marks, f"{i}-{site}-{time.time()}").touch()
    wanted = [pathlib.Path(releases, "all")]
    if site == "here":
        wanted.append(pathlib.Path(releases, "here"))
    deadline = time.monotonic() + hold_s
    while not all(p.exists() for p in wanted) and time.monotonic() < deadline:
        time.sleep(0.05)
    return i


def last_status(run_dir: Path, site: str) -> str | None:
    """``site``'s state in the last status line the run wrote."""
    status = read_journal(run_dir).status
    return next((s.state for s in status.sites if s.site == site), None) if status else None


def test_an_announced_stop_moves_its_tasks_at_once_and_the_first_result_wins(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint, tmp_path: Path
) -> None:
    marks, releases = tmp_path / "marks", tmp_path / "releases"
    marks.mkdir()
    releases.mkdir()
    sites = {
        "ep": {
            "endpoint_id": standin_endpoint.endpoint_id,
            "site": "localhost",
            "capacity": 2,
            "offline_grace_s": GRACE_S,
            "prefetch": 1,
        },
        "here": {
            "kind": "local",
            "site": "localhost",
            "set": ['worker_init=["export CHILTEPIN_TEST_SITE=here"]'],
            "options": {"max_workers_per_node": 1},
            "prefetch": 1,
        },
    }
    run_dir = tmp_path / "run"
    with Federation(sites, run_dir=run_dir, progress=False, status_poll_s=0.5) as fed:
        futures = [
            fed.submit(held_until_released, i, str(marks), str(releases), HOLD_S)
            for i in range(TASKS)
        ]
        ep = fed.placement.backends["ep"]
        # "here" runs one task at a time, so three started means two run on the endpoint
        wait_until(lambda: len(list(marks.iterdir())) >= 3, 120, what="three tasks started")
        held = len(ep.in_flight())
        assert held >= 2
        standin.set_offline(standin_endpoint.endpoint_id, announced=True)
        stopped = time.monotonic()
        wait_until(
            lambda: {c.site: c for c in fed.summary()}["ep"].failovers == held,
            MOVE_S,
            interval=0.1,
            what="the stopped endpoint's tasks placed again",
        )
        moved_after = time.monotonic() - stopped
        wait_until(  # the run says so in its journal, where a dashboard reads it
            lambda: last_status(run_dir, "ep") == "stopped",
            5,
            what="the stop in the run's status line",
        )
        assert not any(f.done() for f in futures)  # none could have finished anywhere
        (releases / "all").touch()  # the endpoint's runs may finish now
        standin.set_offline(standin_endpoint.endpoint_id, False)  # it was running all along
        wait_until(
            lambda: {c.site: c for c in fed.summary()}["ep"].succeeded == held,
            120,
            what="the endpoint's own runs back, first",
        )
        (releases / "here").touch()  # and the local site's, its moved copies among them
        assert sorted(f.result(timeout=180) for f in futures) == list(range(TASKS))
        won_at = [f.site for f in futures]
        backends = fed.placement.backends.values()
        wait_until(
            lambda: not any(b.outstanding for b in backends),
            120,
            what="every run of every task, winner or not, to come back",
        )
        counts = {c.site: c for c in fed.summary()}
    copies = sum("-here-" in m.name for m in marks.iterdir()) - (TASKS - held)
    assert moved_after < MOVE_S  # at once, not at the grace
    # a moved task waits in the client until "here" has room; once its endpoint run wins it
    # is not placed at all: those placed ran beside their old attempts, each counted
    assert copies <= counts["here"].raced <= held
    assert won_at.count("ep") == counts["ep"].succeeded == held  # the first results won
    assert counts["here"].succeeded == TASKS - held
    assert counts["here"].duplicates == copies  # each moved copy that ran lost, counted
    assert counts["ep"].late == counts["ep"].duplicates == 0
    outcomes = [e for e in events(run_dir) if isinstance(e, DoneEvent)]
    assert sorted(e.id for e in outcomes) == sorted({e.id for e in outcomes})  # once each
    assert len(outcomes) == TASKS and all(e.ok for e in outcomes)
