"""An endpoint site lost and back: its health changes journalled as site events, and the
alerts ``site_lost`` and ``site_back`` delivered to a real local webhook.

The endpoint is a real one (the stand-in's ``localhost`` endpoint); the service reports it
offline (``GlobusStandIn.set_offline``) past its grace period, then online again, as the
status API shows an endpoint that drops out and returns.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chiltepin.federation import Federation
from chiltepin.federation.backends import EndpointState
from chiltepin.federation.journal import events
from chiltepin.federation.journal_format import AlertEvent, SiteEvent
from chiltepin.system.waiting import wait_until
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint
from tests.federation import tasks
from tests.federation.webhook import Receiver

pytestmark = pytest.mark.rabbitmq

GRACE_S = 1.0


def test_an_endpoint_lost_and_back_is_journalled_and_alerted(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint, tmp_path: Path
) -> None:
    release, run_dir = tmp_path / "release", tmp_path / "run"
    endpoint_id = standin_endpoint.endpoint_id
    sites = {
        "ep": {
            "endpoint_id": endpoint_id,
            "site": "localhost",
            "capacity": 2,
            "offline_grace_s": GRACE_S,
        }
    }
    with Receiver() as hook:
        alerts = {"webhook": hook.url}
        with Federation(
            sites, run_dir=run_dir, progress=False, status_poll_s=0.3, alerts=alerts
        ) as fed:
            ep = fed.placement.backends["ep"]
            held = fed.submit(tasks.wait_for, str(release), 1)
            wait_until(lambda: ep.state is EndpointState.ONLINE, 60, what="the endpoint online")
            standin.set_offline(endpoint_id)
            wait_until(lambda: "site_lost" in hook.events(), 60, what="a site_lost alert")
            assert not ep.healthy
            standin.set_offline(endpoint_id, False)
            wait_until(lambda: "site_back" in hook.events(), 60, what="a site_back alert")
            assert ep.healthy
            release.touch()  # the endpoint's run ends (late: its task failed over meanwhile)
            assert held.exception(timeout=120) is not None  # no other site could take it
    assert hook.events() == ["site_lost", "site_back", "run_finished"]
    lost, back, _ = hook.payloads
    assert lost["site"] == back["site"] == "ep"
    assert lost["details"]["state"] == "lost"
    assert f"offline for {GRACE_S:.0f} s" in lost["details"]["reason"]
    assert back["details"]["state"] == "online" and back["details"]["down_s"] > 0

    journal = list(events(run_dir))
    changes = [(e.state, e.healthy) for e in journal if isinstance(e, SiteEvent)]
    # online; offline (a blip, or silent); lost, then out of placement; back, then in again
    assert changes[0] == ("online", True)
    assert changes[-2:] == [("online", False), ("online", True)]
    lost_at = changes.index(("lost", True))
    assert changes[lost_at + 1] == ("lost", False)
    assert {state for state, _ in changes[1:lost_at]} <= {"offline", "silent"}
    assert all(e.at > 0 and e.site == "ep" for e in journal if isinstance(e, SiteEvent))
    alerted = [e.kind for e in journal if isinstance(e, AlertEvent)]
    assert alerted == ["site_lost", "site_back", "run_finished"]
