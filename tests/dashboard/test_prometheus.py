"""A real Prometheus (Debian's package, run here by PID on loopback) scrapes the
dashboard's ``/metrics`` with the bearer token, over a finished real run on an embedded
local site; a PromQL query through its HTTP API returns the run's succeeded count."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from chiltepin.dashboard.server import Dashboard
from chiltepin.dashboard.token import token_from_file
from chiltepin.federation import Federation
from chiltepin.system.missing import missing_part
from chiltepin.system.processes import terminate
from chiltepin.system.waiting import wait_until
from chiltepin.testing.rabbitmq import free_port
from tests.federation import tasks

RUN = "20261207-scraped"
TASKS = 5
SCRAPED_S = 15  # Prometheus starts, scrapes every second, and has the sample


@pytest.fixture
def finished_run(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    site = {"kind": "local", "site": "localhost", "options": {"max_workers_per_node": 2}}
    with Federation({"a": site}, run_dir=runs / RUN, progress=False) as fed:
        futures = [fed.submit(tasks.square, x) for x in range(TASKS)]
        assert [f.result(timeout=180) for f in futures] == [x * x for x in range(TASKS)]
    return runs


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    """The dashboard's token kept in a file, as Prometheus's credentials_file reads it."""
    path = tmp_path / "dashboard-token"
    token_from_file(path)
    return path


@pytest.fixture
def dashboard(finished_run: Path, token_file: Path) -> Iterator[Dashboard]:
    with Dashboard(finished_run, token=token_from_file(token_file)) as served:
        yield served


@pytest.fixture
def prometheus(
    dashboard: Dashboard, token_file: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> str:
    """Prometheus scraping the dashboard every second; its base URL. Stopped by PID."""
    binary = shutil.which("prometheus")
    if binary is None:
        missing_part("the metrics test runs Debian's prometheus (apt-get install prometheus)")
    host, port = dashboard.address
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: chiltepin\n"
        "    authorization:\n"
        f"      credentials_file: {token_file}\n"
        "    static_configs:\n"
        f"      - targets: ['{host}:{port}']\n"
    )
    listen = f"127.0.0.1:{free_port()}"  # it takes no port 0
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--web.listen-address={listen}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )

    def stop() -> None:
        assert not terminate([process.pid]), "prometheus outlived SIGKILL"
        process.wait(timeout=5)
        log.close()

    request.addfinalizer(stop)
    return f"http://{listen}"


def _query(base: str, promql: str) -> list[dict]:
    try:
        answer = requests.get(f"{base}/api/v1/query", params={"query": promql}, timeout=5)
    except requests.ConnectionError:  # not listening yet
        return []
    if answer.status_code != 200:
        return []
    return answer.json()["data"]["result"]


def test_prometheus_scrapes_the_runs_succeeded_count(prometheus: str) -> None:
    result = wait_until(
        lambda: _query(prometheus, f'chiltepin_run_tasks_succeeded_total{{run="{RUN}"}}'),
        SCRAPED_S,
        interval=0.25,
        what="Prometheus to have scraped the run's succeeded count",
    )
    assert [float(r["value"][1]) for r in result] == [TASKS]
    up = _query(prometheus, 'up{job="chiltepin"}')  # the scrape itself succeeded
    assert [r["value"][1] for r in up] == ["1"]
    placed = _query(prometheus, f'chiltepin_site_tasks_placed_total{{run="{RUN}",site="a"}}')
    assert [float(r["value"][1]) for r in placed] == [TASKS]
