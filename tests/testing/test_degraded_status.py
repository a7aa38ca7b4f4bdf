"""The federation when the service leaves out status fields no Globus example promises.

``docs/standin-fidelity.md`` lists each field a federation decision reads; the stand-in
omits one here (``GlobusStandIn.omit_fields``) and the decision must degrade as documented:
no ``status`` -> the poll counts as no answer (no failover); no
``details.heartbeat_period`` -> an unannounced offline spell is a stop only if none of what
the endpoint held finishes within ``offline_grace_s`` of its return; no
``details.total_workers`` -> late binding sizes the site's window from the tasks it was seen
running at once.
"""

from __future__ import annotations

import time
from pathlib import Path

from chiltepin.federation import Federation
from chiltepin.system.waiting import wait_until
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint


def nap(i: int, seconds: float) -> int:
    import time

    time.sleep(seconds)
    return i


def _federation(ep: SiteEndpoint, run_dir: Path, grace_s: float) -> Federation:
    site = {"endpoint_id": ep.endpoint_id, "site": "localhost", "capacity": 2}
    site["offline_grace_s"] = grace_s
    return Federation({"solo": site}, run_dir=run_dir, progress=False, status_poll_s=0.3)


def _status_polls(standin: GlobusStandIn, ep: SiteEndpoint) -> int:
    path = f"/v2/endpoints/{ep.endpoint_id}/status"
    return sum(1 for _, p, _ in standin.request_log if p == path)


def _offline_for(standin: GlobusStandIn, ep: SiteEndpoint, polls: int) -> None:
    """Make the endpoint look offline until the federation has polled ``polls`` times."""
    seen = _status_polls(standin, ep)
    standin.set_offline(ep.endpoint_id)
    try:
        wait_until(
            lambda: _status_polls(standin, ep) >= seen + polls, 30, what="the federation to poll"
        )
    finally:
        standin.set_offline(ep.endpoint_id, False)


def test_status_without_a_status_field_is_no_reason_to_fail_over(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint, tmp_path: Path
) -> None:
    standin.omit_fields("endpoint_status", "status")
    standin.set_offline(standin_endpoint.endpoint_id)  # what a status would say, if sent
    with _federation(standin_endpoint, tmp_path, grace_s=0.5) as fed:
        futures = [fed.submit(nap, i, 1.5) for i in range(2)]
        assert [f.result(timeout=120) for f in futures] == [0, 1]
        counts = fed.summary()[0]
    assert _status_polls(standin, standin_endpoint) >= 3  # it did look, past the grace
    assert (counts.failovers, counts.retries) == (0, 0)


def test_unannounced_offline_spell_then_nothing_delivered_is_a_stop(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint, tmp_path: Path
) -> None:
    standin.omit_fields("endpoint_status", "details.heartbeat_period")
    with _federation(standin_endpoint, tmp_path, grace_s=2.0) as fed:
        # Long enough that neither finishes before the decision (two offline polls, the
        # return, then offline_grace_s), however slowly a loaded host polls.
        futures = [fed.submit(nap, i, 20.0) for i in range(2)]
        wait_until(lambda: fed.summary()[0].tasks == 2, 60, what="both attempts placed")
        _offline_for(standin, standin_endpoint, polls=2)
        back = time.monotonic()
        wait_until(lambda: fed.summary()[0].failovers == 2, 60, what="the held tasks re-placed")
        replaced_after = time.monotonic() - back
        assert sorted(f.result(timeout=120) for f in futures) == [0, 1]
    assert replaced_after >= 2.0 - 0.5  # not before offline_grace_s past the return (± a poll)


def test_unannounced_offline_spell_then_a_result_is_a_blip(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint, tmp_path: Path
) -> None:
    standin.omit_fields("endpoint_status", "details.heartbeat_period")
    with _federation(standin_endpoint, tmp_path, grace_s=30.0) as fed:
        futures = [fed.submit(nap, i, 3.0) for i in range(2)]
        wait_until(lambda: fed.summary()[0].tasks == 2, 60, what="both attempts placed")
        _offline_for(standin, standin_endpoint, polls=2)
        assert sorted(f.result(timeout=120) for f in futures) == [0, 1]
        counts = fed.summary()[0]
    assert (counts.failovers, counts.retries) == (0, 0)


def test_status_without_total_workers_windows_the_site_by_what_it_ran_at_once(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint, tmp_path: Path
) -> None:
    standin.omit_fields("endpoint_status", "details.total_workers")
    sites = {
        "ep": {"endpoint_id": standin_endpoint.endpoint_id, "site": "localhost", "capacity": 2},
        "here": {"kind": "local", "site": "localhost", "options": {"max_workers_per_node": 1}},
    }
    with Federation(sites, run_dir=tmp_path, progress=False, status_poll_s=0.5) as fed:
        assert fed.policy.value == "soonest"
        # "here" warm first: a worker still starting on a loaded host has its tasks raced
        # to the endpoint's idle ones, which then win them all (late binding's choice,
        # not what this test is about)
        assert fed.submit(nap, -1, 0.0, site="here").result(timeout=120) == -1
        futures = [fed.submit(nap, i, 0.5) for i in range(24)]
        assert [f.result(timeout=180) for f in futures] == list(range(24))
        ep = fed.placement.backends["ep"]
        learned = fed.estimates["ep"].concurrency
        counts = {c.site: c for c in fed.summary()}
    assert _status_polls(standin, standin_endpoint) >= 1  # it asked, and was not told
    assert ep.live_workers is None  # so it never believed a worker count
    assert learned >= 1  # it learned one from the tasks instead
    assert counts["ep"].succeeded > 0 and counts["here"].succeeded - 1 > 0
    assert counts["ep"].succeeded + counts["here"].succeeded - 1 == 24
