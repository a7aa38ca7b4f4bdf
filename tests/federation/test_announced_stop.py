"""An endpoint that announces a stop: what it held goes elsewhere at once, not after the
grace, and if it comes back with its queue intact the first result wins.

The endpoint is a real one (the stand-in's ``localhost`` endpoint, two workers); the
other site is local with one worker. The stand-in reports the endpoint offline with the
``heartbeat_period: 0`` of its last heartbeat while it in fact runs on, as a stop that is
undone looks to a client (an operator's restart with the tasks still queued for it), so
the endpoint finishes everything it was given. The tasks it was running finish there
long before their moved copies can (the local site's one worker is busy with a task of
its own first), so their results win; each task still resolves exactly once, and every
run that lost is counted as a duplicate.
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
RUN_S = 8.0
GRACE_S = 300.0  # a failover would wait this long; the announced stop must not


def marked_nap(i: int, seconds: float, marks: str) -> int:
    """Leave a mark when started, then sleep."""
    import pathlib
    import time

    pathlib.Path(marks, f"{i}-{time.time()}").touch()
    time.sleep(seconds)
    return i


def test_an_announced_stop_moves_its_tasks_at_once_and_the_first_result_wins(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
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
        futures = [fed.submit(marked_nap, i, RUN_S, str(marks)) for i in range(TASKS)]
        ep = fed.placement.backends["ep"]
        # "here" runs one task at a time, so three started means two run on the endpoint
        wait_until(lambda: len(list(marks.iterdir())) >= 3, 120, what="three tasks started")
        held = len(ep.in_flight())
        assert held >= 2
        standin.set_offline(standin_endpoint.endpoint_id, announced=True)
        stopped = time.monotonic()
        wait_until(
            lambda: {c.site: c for c in fed.summary()}["ep"].failovers == held,
            30,
            interval=0.1,
            what="the stopped endpoint's tasks placed again",
        )
        moved_after = time.monotonic() - stopped
        standin.set_offline(standin_endpoint.endpoint_id, False)  # it was running all along
        assert sorted(f.result(timeout=180) for f in futures) == list(range(TASKS))
        won_at = [f.site for f in futures]
        backends = fed.placement.backends.values()
        wait_until(
            lambda: not any(b.outstanding for b in backends),
            120,
            what="every run of every task, winner or not, to come back",
        )
        counts = {c.site: c for c in fed.summary()}
    assert moved_after < RUN_S  # before any of them could have finished there, not at the grace
    assert counts["here"].raced == held  # each moved task ran beside its stood-by attempt
    # the two the endpoint was running when it "stopped" came back first from it
    assert won_at.count("ep") == counts["ep"].succeeded >= 2
    assert counts["ep"].succeeded + counts["here"].succeeded == TASKS
    # the loser of each moved task is counted once, wherever it lost; nothing is "late"
    assert counts["ep"].duplicates + counts["here"].duplicates == held
    assert counts["ep"].late == 0
    outcomes = [e for e in events(run_dir) if isinstance(e, DoneEvent)]
    assert sorted(e.id for e in outcomes) == sorted({e.id for e in outcomes})  # once each
    assert len(outcomes) == TASKS and all(e.ok for e in outcomes)
