"""The endpoints page's data without a service: the runs' tasks per endpoint id (out now,
placed, succeeded, failed) from their views, a live run's fresh status preferred to
asking, the poller's two rates, and no Globus login shown as such."""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
from pathlib import Path

import pytest

from chiltepin.client.config import FederationConfig
from chiltepin.dashboard.endpoint_status import NOT_LOGGED_IN, StatusPoller, reading_of
from chiltepin.dashboard.endpoints import Configured, Endpoints, configured_endpoints
from chiltepin.dashboard.runs import Runs
from chiltepin.dashboard.server import Dashboard
from chiltepin.dashboard.view import RunView
from chiltepin.errors import ConfigError
from chiltepin.federation.journal import Journal
from chiltepin.federation.journal_format import SiteStatus, StatusEvent, TaskOptions
from chiltepin.federation.states import TaskState
from chiltepin.system.waiting import wait_until
from tests.dashboard.http import get

EP1 = "6f1c0000-0000-4000-8000-000000000001"
EP2 = "6f1c0000-0000-4000-8000-000000000002"
OTHER = "6f1c0000-0000-4000-8000-000000000003"


def sites_file(path: Path, **endpoints: str) -> Path:
    sites = {name: {"endpoint_id": ep, "site": "localhost"} for name, ep in endpoints.items()}
    sites["here"] = {"kind": "local", "site": "localhost"}
    path.write_text(json.dumps({"sites": sites}))  # JSON is YAML
    return path


def write_endpoint_run(
    run_dir: Path, *, ep_name: str, status_at: float | None, finished: bool = False
) -> None:
    """A run on endpoint site ``ep_name`` (EP1), endpoint site "far" (EP2) and local
    "here": on the endpoint, two tasks succeeded, one failed, one retried to "here" and
    two still out there; one still out on "far"; a status line at ``status_at`` saying
    the endpoint is stopped, with 3 workers (1 idle); ``finished``: its client shut down."""
    sites = {
        ep_name: {"endpoint_id": EP1, "site": "localhost"},
        "far": {"endpoint_id": EP2, "site": "localhost"},
        "here": {"kind": "local", "site": "localhost"},
    }
    journal = Journal(run_dir)
    journal.run(FederationConfig.model_validate({"sites": sites}).model_dump(mode="json"))
    journal.function(0, "f", "00\nfn")
    for i in range(7):
        journal.task(f"t{i}", 0, "00\nargs", TaskOptions())
        journal.attempt(f"t{i}", 1, "far" if i == 6 else ep_name, {}, {})
    for i in (0, 1):
        journal.outcome(f"t{i}", 1, True, "00\nv", "v", None)
    journal.outcome("t2", 1, False, "ValueError: no", "ValueError", None)
    journal.attempt("t3", 2, "here", {}, {}, via=TaskState.RETRIED)
    if status_at is not None:
        ep = SiteStatus(ep_name, False, "endpoint stopped", state="stopped", workers=3, idle=1)
        far = SiteStatus("far", True, state="unknown")
        journal.status(
            StatusEvent(status_at, (ep, far), pid=os.getpid(), host=socket.gethostname())
        )
    if finished:
        journal.estimates([])
    journal.close()


class Recorder:
    """An ``ask`` that answers online, noting when each endpoint was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[float, str]] = []

    def __call__(self, endpoint_id: str) -> dict:
        self.asked.append((time.monotonic(), endpoint_id))
        return {"status": "online", "details": {"total_workers": 4, "idle_workers": 1}}


def test_a_run_view_counts_tasks_out_per_site_and_keeps_them_across_a_snapshot(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    write_endpoint_run(run_dir, ep_name="ep", status_at=None)
    view = RunView(run_dir, snapshot_after=1)
    view.update()
    assert view.endpoint_sites() == {"ep": EP1, "far": EP2}
    assert view.out() == {"ep": 2, "far": 1, "here": 1}
    reopened = RunView.open(run_dir)  # from the snapshot the update saved
    assert reopened.offset == view.offset
    assert (reopened.endpoint_sites(), reopened.out()) == (view.endpoint_sites(), view.out())


def test_endpoints_count_runs_per_endpoint_id_and_prefer_a_live_runs_fresh_status(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    now = time.time()
    write_endpoint_run(runs / "20261207-a", ep_name="ep", status_at=now - 1)
    # the same endpoint by another name, in a run whose client shut down
    write_endpoint_run(runs / "20261207-b", ep_name="hera", status_at=now - 1, finished=True)
    ask = Recorder()
    poller = StatusPoller(ask)
    configured = configured_endpoints(sites_file(tmp_path / "sites.yaml", mine=EP1, spare=OTHER))
    assert configured == [Configured("mine", EP1), Configured("spare", OTHER)]
    try:
        doc = Endpoints(Runs(runs), configured, poller).document(now)
        rows = {e["endpoint_id"]: e for e in doc["endpoints"]}
        assert list(rows) == [EP1, OTHER, EP2]  # the sites file's order, then the runs'
        ep = rows[EP1]
        assert ep["configured"] and ep["names"] == ["mine", "hera", "ep"]
        # out now only from the live run; placed/succeeded/failed from both
        assert (ep["out"], ep["placed"], ep["succeeded"], ep["failed"]) == (2, 12, 4, 2)
        assert {r["run"]: (r["state"], r["out"]) for r in ep["runs"]} == {
            "20261207-a": ("live", 2),
            "20261207-b": ("finished", 0),
        }
        assert ep["status"]["status"] == "stopped"  # the live run's word, not asked
        assert ep["status"]["source"] == "run 20261207-a"
        assert (ep["status"]["total_workers"], ep["status"]["idle_workers"]) == (3, 1)
        assert not rows[EP2]["configured"] and rows[EP2]["out"] == 1
        # EP2's run state says nothing of the endpoint (unknown): it and OTHER are asked
        wait_until(lambda: len(ask.asked) == 1, 10, what="the first status request")
        assert ask.asked[0][1] in (OTHER, EP2) and EP1 not in {e for _, e in ask.asked}
        asked = ask.asked[0][1]
        doc = Endpoints(Runs(runs), configured, poller).document()
        shown = {e["endpoint_id"]: e["status"] for e in doc["endpoints"]}[asked]
        assert shown is not None
        assert (shown["status"], shown["total_workers"], shown["idle_workers"]) == ("online", 4, 1)
        assert shown["source"] == "service" and shown["error"] is None
    finally:
        poller.stop()


def test_the_poller_keeps_both_rates_and_asks_only_while_looked_at() -> None:
    ask = Recorder()
    poller = StatusPoller(ask, request_every_s=0.3, endpoint_every_s=1.0, looked_at_s=0.8)
    ids = [EP1, EP2, OTHER]
    try:
        stop_at = time.monotonic() + 4.0
        while time.monotonic() < stop_at:
            poller.want(ids)
            time.sleep(0.05)
        looked_away = time.monotonic()
        time.sleep(3.0)
    finally:
        poller.stop()
    times = [t for t, _ in ask.asked]
    assert len(times) >= 8  # it did keep asking while looked at
    assert all(b - a >= 0.3 for a, b in itertools.pairwise(times))
    for endpoint in ids:
        mine = [t for t, e in ask.asked if e == endpoint]
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(mine))
    assert [t for t in times if t > looked_away + 0.8 + 1.0] == []  # stopped once unwatched


def test_service_answers_read_as_the_four_states() -> None:
    assert reading_of({"status": "online", "details": {}}, 1.0).status == "online"
    stopped = {"status": "offline", "details": {"heartbeat_period": 0}}
    assert reading_of(stopped, 1.0).status == "stopped"
    assert reading_of({"status": "offline", "details": {}}, 1.0).status == "offline"
    unknown = reading_of({"details": {}}, 1.0)
    assert unknown.status == "unknown" and unknown.error


def test_without_a_globus_login_the_page_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLOBUS_COMPUTE_CLIENT_ID", raising=False)
    monkeypatch.delenv("GLOBUS_COMPUTE_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("GLOBUS_COMPUTE_USER_DIR", str(tmp_path / "no-tokens"))
    runs = tmp_path / "runs"
    runs.mkdir()
    with Dashboard(runs, sites=sites_file(tmp_path / "sites.yaml", mine=EP1)) as dashboard:
        base = dashboard.url.split("?")[0].rstrip("/")
        url = f"{base}/api/endpoints?token={dashboard.token}"

        def shown() -> dict | None:
            status, body = get(url)
            assert status == 200
            return json.loads(body)["endpoints"][0]["status"]

        reading = wait_until(shown, 20, what="the endpoint's status")
        assert reading["status"] == "unknown" and reading["error"] == NOT_LOGGED_IN
        assert get(f"{base}/api/endpoints")[0] == 401  # as every page, the token needed


def test_a_sites_file_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "sites.yaml"
    bad.write_text("sites:\n  ep: {endpoint_id: not-a-uuid, site: localhost}\n")
    with pytest.raises(ConfigError, match=r"sites\.yaml"):
        configured_endpoints(bad)
