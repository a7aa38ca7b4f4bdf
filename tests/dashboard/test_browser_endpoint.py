"""The dashboard in a real browser over a run on two embedded local sites and one real
endpoint (through the Globus stand-in) that is stopped part way: the page shows the
endpoint's site as no longer online within 5 s of the stop, the run fails its tasks over
and ends with the journal's counts, and the page asks no host but its own."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from chiltepin.dashboard.server import Dashboard
from chiltepin.federation import Federation
from chiltepin.federation.journal import count_states
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint, start_site_endpoint, stop_site_endpoint
from tests.dashboard.pages import watched_page
from tests.federation import tasks

pytestmark = [pytest.mark.rabbitmq]
RUN = "20261207-endpoint"
TASKS = 60
TASK_S = 1.5  # so the endpoint still holds most of its third when stopped
STARTED_S = 180  # three sites start their workers (slow on a loaded machine)
OFFLINE_S = 5.0  # from the endpoint's stop to the page showing it
STATUS_POLL_S = 1.0  # the run's endpoint status poll (the dashboard itself polls nothing)


def _local() -> dict[str, Any]:
    return {"kind": "local", "site": "localhost", "options": {"max_workers_per_node": 2}}


def _number(page: Any, selector: str) -> int:
    return int(page.text_content(selector) or "0")


def _site_row(page: Any, site: str) -> Any:
    return page.locator("#sites tbody tr", has=page.locator(f"td:text-is('{site}')"))


def test_a_stopped_endpoint_site_shows_offline_in_the_browser(
    browser: Any, globus_standin: GlobusStandIn, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    run_dir = runs / RUN
    ledger = tmp_path / "ledger.txt"
    endpoint: SiteEndpoint | None = start_site_endpoint(
        "dash-ep", "localhost", globus_standin, root=Path(os.environ["GLOBUS_COMPUTE_USER_DIR"])
    )
    assert endpoint is not None
    sites = {
        "a": _local(),
        "b": _local(),
        "ep": {"endpoint_id": endpoint.endpoint_id, "site": "localhost", "offline_grace_s": 2},
    }
    try:
        with Dashboard(runs) as dashboard:
            base = dashboard.url.split("?")[0].rstrip("/")
            page, requests, errors = watched_page(browser)
            with Federation(
                sites,
                run_dir=run_dir,
                progress=False,
                status_poll_s=STATUS_POLL_S,
                policy="round_robin",  # the endpoint holds its third when it stops
            ) as fed:
                page.goto(f"{base}/run/{RUN}?token={dashboard.token}")
                futures = [
                    fed.submit(tasks.count_and_return, str(ledger), i, TASK_S) for i in range(TASKS)
                ]
                row = _site_row(page, "ep")
                row.locator(".healthy").wait_for(timeout=STARTED_S * 1000)
                # The endpoint has run some of the tasks before it is stopped.
                deadline = time.monotonic() + STARTED_S
                while not [f for f in futures if f.done() and f.site == "ep"]:
                    assert time.monotonic() < deadline, "the endpoint ran nothing"
                    time.sleep(0.1)
                stopping = time.monotonic()
                assert stop_site_endpoint(endpoint) == [], "the endpoint left processes"
                endpoint = None
                stopped = time.monotonic()
                row.locator(".unhealthy").wait_for(timeout=OFFLINE_S * 1000)
                assert time.monotonic() - stopped <= OFFLINE_S
                print(
                    f"the stop took {stopped - stopping:.1f} s; the page showed it "
                    f"{time.monotonic() - stopped:.1f} s later"
                )
                assert [f.result(timeout=120) for f in futures] == list(range(TASKS))
                assert any(f.attempts > 1 for f in futures), "nothing failed over"

            page.locator("#run-state:text-is('finished')").wait_for(timeout=5000)
            page.wait_for_timeout(1100)  # one more poll: the page's last word
            counted = count_states(run_dir)
            assert _number(page, "#count-tasks") == counted.tasks == TASKS
            assert _number(page, "#count-succeeded") == counted.succeeded == TASKS
            assert _number(page, "#count-failed") == counted.failed == 0
            assert page.locator("#sites tbody tr").count() == 3
            assert "ep" in (page.text_content("#events") or "")
            page.close()
    finally:
        if endpoint is not None:
            stop_site_endpoint(endpoint)
    assert requests and all(url.startswith(base + "/") for url in requests), requests
    assert errors == []
