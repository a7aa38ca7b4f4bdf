"""An endpoint that announces a stop: what it held goes elsewhere at once, not after the
grace, and if it runs those tasks after all, their results are counted and dropped.

The endpoint is a real one (the stand-in's ``localhost`` endpoint, two workers); the
other site is local with one worker. The stand-in reports the endpoint offline with the
``heartbeat_period: 0`` of its last heartbeat while it in fact runs on, as a stop that is
undone looks to a client (an operator's restart with the tasks still queued for it), so
the endpoint finishes everything it was given: each of those runs must come back as a
late result, and each task must still resolve exactly once.

Every task waits for a release file the test writes only after the move: the endpoint's
runs cannot finish before their tasks are moved, however slow the host, so "moved before
they could finish there" needs no race against a fixed run time.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chiltepin.federation import Federation
from chiltepin.federation.journal import events
from chiltepin.federation.journal_format import DoneEvent
from chiltepin.system.waiting import wait_until
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint

pytestmark = pytest.mark.rabbitmq

TASKS = 4
GRACE_S = 300.0  # a failover would wait this long; the announced stop must not
MOVE_S = GRACE_S / 5  # moved well before the grace: "at once", with room for a slow host
HOLD_S = 240.0  # how long a task waits for its release at most (the test writes it)


def held_until_released(i: int, marks: str, release: str, hold_s: float) -> int:
    """Leave a mark when started, then wait until ``release`` exists (``hold_s`` at most)."""
    import pathlib
    import time

    pathlib.Path(marks, f"{i}-{time.time()}").touch()
    deadline = time.monotonic() + hold_s
    while not pathlib.Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return i


def test_an_announced_stop_moves_its_tasks_at_once_and_drops_their_late_results(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    release = tmp_path / "release"
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
            "options": {"max_workers_per_node": 1},
            "prefetch": 1,
        },
    }
    run_dir = tmp_path / "run"
    with Federation(sites, run_dir=run_dir, progress=False, status_poll_s=0.5) as fed:
        futures = [
            fed.submit(held_until_released, i, str(marks), str(release), HOLD_S)
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
            lambda: {c.site: c for c in fed.summary()}["ep"].retries == held,
            MOVE_S,
            interval=0.1,
            what="the stopped endpoint's tasks placed again",
        )
        moved_after = time.monotonic() - stopped
        assert ep.late_results == 0 and not release.exists()  # none could have finished
        release.touch()  # now every run, there and here, may finish
        standin.set_offline(standin_endpoint.endpoint_id, False)  # it was running all along
        assert sorted(f.result(timeout=180) for f in futures) == list(range(TASKS))
        wait_until(lambda: ep.late_results == held, 60, what="the endpoint's own runs to come back")
        counts = {c.site: c for c in fed.summary()}
    assert moved_after < MOVE_S  # at once, not at the grace
    assert counts["ep"].late == held and counts["ep"].succeeded == TASKS - counts["here"].succeeded
    assert counts["here"].succeeded >= held  # the moved tasks resolved where they were moved
    outcomes = [e for e in events(run_dir) if isinstance(e, DoneEvent)]
    assert sorted(e.id for e in outcomes) == sorted({e.id for e in outcomes})  # once each
    assert len(outcomes) == TASKS and all(e.ok for e in outcomes)
