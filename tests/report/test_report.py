"""`chiltepin report` and budgets, from real runs on embedded local sites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from globus_compute_sdk.errors import TaskExecutionFailed

from chiltepin.cli.main import cli
from chiltepin.errors import ChiltepinError
from chiltepin.federation import BudgetExceeded, Federation
from chiltepin.report import build_report
from tests.federation import tasks

SITES = {
    "cheap": {
        "kind": "local",
        "site": "localhost",
        "set": ["cost_per_node_hour=2.0"],
        "options": {"max_workers_per_node": 1},
    },
    "dear": {
        "kind": "local",
        "site": "localhost",
        "set": ["cost_per_node_hour=10.0"],
        "options": {"max_workers_per_node": 1},
    },
}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("run")
    with Federation(SITES, run_dir=run_dir, progress=False, policy="round_robin") as fed:
        list(fed.map(tasks.nap, range(8), [0.2] * 8))
        with pytest.raises(TaskExecutionFailed, match="ValueError: user error 1"):
            fed.submit(tasks.fail_once_per_call, 1, site="dear").result(60)
    return run_dir


def test_report_counts_times_jobs_and_cost(finished_run: Path) -> None:
    report = build_report(finished_run)
    sites = {s.site: s for s in report.sites}
    assert set(sites) == {"cheap", "dear"}
    assert sites["cheap"].succeeded + sites["dear"].succeeded == 8
    assert sites["dear"].failed == 1
    for s in sites.values():
        assert s.tasks == s.succeeded + s.failed + s.retries
        assert s.task_seconds_median is not None and 0.15 < s.task_seconds_median < 5
        assert s.jobs == 1 and s.node_hours > 0
        assert s.cost == pytest.approx(s.node_hours * {"cheap": 2.0, "dear": 10.0}[s.site])
        assert s.cost_unit == "USD"
    # tasks ran one at a time per site for ~0.2 s each: the job spans at least that
    assert sites["cheap"].node_hours * 3600 >= 4 * 0.2 * 0.9
    # what placement believed of each site, as the run learned it
    believed = {e["site"]: e for e in report.estimates}
    assert set(believed) == {"cheap", "dear"}
    assert 0.15 < believed["cheap"]["run_s"] < 5 and believed["cheap"]["concurrency"] == 1
    assert believed["dear"]["failure_rate"] == 0  # a user's error is not the site's


def test_report_command_writes_png_and_json(finished_run: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(finished_run)])
    assert result.exit_code == 0, result.output
    assert "cheap" in result.output and "node-hours" in result.output
    assert "Placement: believed / did" in result.output
    png = (finished_run / "timeline.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    data = json.loads((finished_run / "report.json").read_text())
    assert {s["site"] for s in data["sites"]} == {"cheap", "dear"}
    assert all(j["node_hours"] > 0 for j in data["jobs"])
    as_json = CliRunner().invoke(cli, ["report", str(finished_run), "--json"])
    assert json.loads(as_json.output)["sites"] == data["sites"]


def test_budget_stops_new_work_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Federation(SITES, run_dir=tmp_path, progress=False, budget=1e-4) as fed:
        ran = 0
        with pytest.raises(BudgetExceeded, match=r"budget of 0.0001 USD reached"):
            for i in range(100):
                fed.submit(tasks.nap, i, 0.3, site="dear").result(60)
                ran += 1
    assert 0 < ran < 100
    assert "no new tasks are submitted" in caplog.text
    sites = build_report(tmp_path).sites
    assert [s.site for s in sites] == ["dear"]
    assert sites[0].succeeded == ran


def test_budget_needs_one_cost_unit() -> None:
    mixed = {
        **SITES,
        "hpc": {"kind": "local", "site": "localhost", "set": ["cost_unit=core-hours"]},
    }
    with pytest.raises(ChiltepinError, match="one unit; sites use USD, core-hours"):
        Federation(mixed, progress=False, budget=10)
