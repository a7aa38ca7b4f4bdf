"""The endpoints page's JSON over a real endpoint through the Globus stand-in: the tasks a
run puts on it (out while they run, then succeeded and failed), its status from the live
run and then from the service, and the status requests the stand-in receives kept within
the dashboard's rates."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from chiltepin.dashboard.endpoint_status import REQUEST_EVERY_S
from chiltepin.dashboard.server import Dashboard
from chiltepin.federation import Federation
from chiltepin.system.waiting import wait_until
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint
from tests.dashboard.http import get
from tests.federation import tasks

pytestmark = pytest.mark.rabbitmq

RUN = "20261207-ep"
START_S = 120  # the endpoint starts a user endpoint and its workers for the run
_STATUS = re.compile(r"/v[23]/endpoints/([^/]+)/status")


def _sites_file(path: Path, endpoints: dict[str, str]) -> Path:
    sites = {name: {"endpoint_id": ep, "site": "localhost"} for name, ep in endpoints.items()}
    path.write_text(json.dumps({"sites": sites}))
    return path


def _endpoints(dashboard: Dashboard) -> dict[str, dict[str, Any]]:
    base = dashboard.url.split("?")[0].rstrip("/")
    status, body = get(f"{base}/api/endpoints?token={dashboard.token}")
    assert status == 200
    return {e["endpoint_id"]: e for e in json.loads(body)["endpoints"]}


def _status_requests(standin: GlobusStandIn, ids: set[str]) -> list[str]:
    """The endpoint ids of the status requests the stand-in answered, of ``ids``."""
    out = []
    for _method, path, _code in list(standin.request_log):
        found = _STATUS.fullmatch(path.split("?")[0])
        if found and found.group(1) in ids:
            out.append(found.group(1))
    return out


def test_an_endpoint_shows_its_status_and_the_tasks_a_run_put_on_it(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint, tmp_path: Path
) -> None:
    ep = standin_endpoint.endpoint_id
    gate = tmp_path / "gate"
    sites = {"ep": {"endpoint_id": ep, "site": "localhost", "capacity": 2}}
    sites_file = _sites_file(tmp_path / "sites.yaml", {"mine": ep})
    with Dashboard(tmp_path / "runs", sites=sites_file) as dashboard:
        with Federation(sites, run_dir=tmp_path / "runs" / RUN, progress=False) as fed:
            failing = fed.submit(tasks.fail_once_per_call, 3)
            gated = [fed.submit(tasks.wait_for, str(gate), i) for i in range(2)]
            assert failing.exception(timeout=START_S) is not None

            def running() -> dict[str, Any] | None:
                row = _endpoints(dashboard)[ep]
                told = row["status"] or {}
                live = row["out"] == 2 and told.get("source") == f"run {RUN}"
                return row if live else None

            row = wait_until(running, 30, what="the run's two tasks out on the endpoint")
            assert row["configured"] and row["names"] == ["mine", "ep"]
            assert row["status"]["status"] == "online" and row["failed"] == 1
            assert row["runs"] == [
                {"run": RUN, "state": "live", "sites": ["ep"], "out": 2}
                | {"placed": 3, "succeeded": 0, "failed": 1}
            ]
            gate.touch()
            assert [f.result(timeout=60) for f in gated] == [0, 1]

        def asked() -> dict[str, Any] | None:  # the run ended: its word is no longer live
            row = _endpoints(dashboard)[ep]
            return row if (row["status"] or {}).get("source") == "service" else None

        row = wait_until(asked, 30, what="the endpoint's status asked of the service")
        assert (row["out"], row["placed"], row["succeeded"], row["failed"]) == (0, 3, 2, 1)
        assert row["runs"][0]["state"] == "finished"
        status = row["status"]
        assert status["status"] == "online" and status["error"] is None
        assert abs(status["at"] - time.time()) < 30 and "idle_workers" in status


def test_status_requests_keep_the_dashboards_rates(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint, tmp_path: Path
) -> None:
    ep = standin_endpoint.endpoint_id
    gone = [str(uuid.uuid4()), str(uuid.uuid4())]  # endpoints the service does not know
    ids = {ep, *gone}
    sites_file = _sites_file(tmp_path / "sites.yaml", {"ep": ep, "x": gone[0], "y": gone[1]})
    before = len(_status_requests(standin, ids))
    samples: list[tuple[float, int]] = []
    (tmp_path / "runs").mkdir()
    with Dashboard(tmp_path / "runs", sites=sites_file) as dashboard:
        start = time.monotonic()
        while time.monotonic() - start < 2 * REQUEST_EVERY_S + 2:  # the page looked at
            rows = _endpoints(dashboard)
            samples.append((time.monotonic(), len(_status_requests(standin, ids)) - before))
            time.sleep(0.2)
        sent = _status_requests(standin, ids)[before:]
    # one request per 5 s at most: three in 12 s, each endpoint once (30 s apart at most)
    assert len(sent) == 3 and set(sent) == ids, sent
    for t0, n0 in samples:
        later = [n for t, n in samples if t - t0 < REQUEST_EVERY_S - 0.5 and t >= t0]
        assert max(later) - n0 <= 1, samples
    for endpoint in gone:  # the service's refusal is shown as it said it
        status = rows[endpoint]["status"]
        assert status["status"] == "unknown" and status["error"], status
    assert rows[ep]["status"]["status"] == "online"
