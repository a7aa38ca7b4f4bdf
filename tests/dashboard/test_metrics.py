"""The dashboard's ``/metrics``: exact values of a journal written here, which runs a
scrape covers, an appended line seen by the next scrape, and the bearer token Prometheus
sends."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chiltepin.dashboard.metrics import RECENT_S
from chiltepin.dashboard.server import Dashboard
from chiltepin.federation.journal import JOURNAL, Journal
from chiltepin.federation.journal_format import TaskOptions
from tests.dashboard.test_server import get
from tests.dashboard.test_view import T0, write_run

RUN = "20261207-run"
OLD = "20250101-old"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    write_run(root / RUN)
    write_run(root / OLD)
    long_ago = time.time() - RECENT_S - 60  # finished before the scrape's window
    os.utime(root / OLD / JOURNAL, (long_ago, long_ago))
    return root


@pytest.fixture
def dashboard(runs: Path) -> Iterator[Dashboard]:
    with Dashboard(runs) as served:
        yield served


def scrape(dashboard: Dashboard) -> Samples:
    status, headers, body = get(
        dashboard, "/metrics", headers={"Authorization": f"Bearer {dashboard.token}"}
    )
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def at(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset({"run": RUN, **labels}.items()))]


def test_the_metrics_are_the_journals_counts(dashboard: Dashboard) -> None:
    samples = scrape(dashboard)
    assert at(samples, "chiltepin_run_info", state="finished") == 1
    run = {
        "submitted": 9,  # every task line, the refused and the held one too
        "succeeded": 5,
        "failed": 2,  # the user failure and the refusal
    }
    for name, value in run.items():
        assert at(samples, f"chiltepin_run_tasks_{name}_total") == value, name
    # Attempts per site, counted as the report counts them (see test_view).
    per_site = {
        "placed": {"a": 6, "b": 4},
        "succeeded": {"a": 4, "b": 1},
        "failed": {"a": 1, "b": 0},
        "retried": {"a": 0, "b": 1},
        "failed_over": {"a": 0, "b": 2},  # the retry that moved to a, and the failover
        "raced": {"a": 1, "b": 0},
    }
    for name, sites in per_site.items():
        for site, value in sites.items():
            assert at(samples, f"chiltepin_site_tasks_{name}_total", site=site) == value, name
    # Node-hours from successes: a's jobs j1 (2 nodes, 1 s to 4 s) and j2 (1 node, 40 s to
    # 42 s); b's k1 (2 nodes, 3 s to 5 s); priced at 3.0 per node-hour.
    hours = {"a": (2 * 3.0 + 2.0) / 3600, "b": 2 * 2.0 / 3600}
    for site, value in hours.items():
        assert at(samples, "chiltepin_site_node_hours_total", site=site) == pytest.approx(value)
        cost = at(samples, "chiltepin_site_cost_total", site=site, unit="USD")
        assert cost == pytest.approx(3.0 * value)
    # The run's last status line (at 50 s): tasks by state, held, budget, each site.
    assert at(samples, "chiltepin_run_tasks", state="succeeded") == 5
    assert at(samples, "chiltepin_run_tasks", state="held") == 3
    assert at(samples, "chiltepin_run_held_tasks") == 3
    assert at(samples, "chiltepin_run_budget", unit="USD") == 10.0
    assert at(samples, "chiltepin_run_updated_timestamp_seconds") == T0 + 50.0
    assert at(samples, "chiltepin_site_healthy", site="a", state="") == 1
    assert at(samples, "chiltepin_site_healthy", site="b", state="online") == 1
    for name, value in {"workers": 2, "capacity": 2, "outstanding_tasks": 1, "window": 4}.items():
        assert at(samples, f"chiltepin_site_{name}", site="a") == value, name
    assert at(samples, "chiltepin_site_workers", site="b") == 0
    assert at(samples, "chiltepin_site_workers_idle", site="a") == 1
    assert at(samples, "chiltepin_site_workers_idle", site="b") == 0
    assert at(samples, "chiltepin_site_blocks", site="a", state="running") == 1
    assert at(samples, "chiltepin_site_blocks", site="a", state="pending") == 2
    # An endpoint's status carries no blocks: absent, not 0.
    assert not any(
        name == "chiltepin_site_blocks" and ("site", "b") in labels for name, labels in samples
    )
    assert at(samples, "chiltepin_site_run_seconds", site="a") == 1.5
    assert at(samples, "chiltepin_site_failure_rate", site="a") == 0.0
    # An estimate placement has no sample for yet is absent, not 0.
    assert not any(name == "chiltepin_site_queue_wait_seconds" for name, _ in samples)
    assert not any(
        name == "chiltepin_site_run_seconds" and ("site", "b") in labels for name, labels in samples
    )


def test_a_scrape_covers_recent_runs_only_and_reads_only_new_lines(
    dashboard: Dashboard, runs: Path
) -> None:
    samples = scrape(dashboard)
    assert {dict(labels)["run"] for _, labels in samples} == {RUN}  # not the old run
    assert dashboard.runs.recent(RECENT_S)[0][0].offset == (runs / RUN / JOURNAL).stat().st_size

    journal = Journal(runs / RUN)  # the run resumed: one more task succeeds on b
    journal.run({"sites": {}})
    journal.task("t999999", 0, "00\nargs", TaskOptions())
    journal.attempt("t999999", 1, "b", {}, {})
    journal.outcome("t999999", 1, True, "00\nv", "value")
    journal.close()
    again = scrape(dashboard)
    assert at(again, "chiltepin_run_tasks_submitted_total") == 10
    assert at(again, "chiltepin_run_tasks_succeeded_total") == 6
    assert at(again, "chiltepin_site_tasks_succeeded_total", site="b") == 2


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Bearer wrong", 403), ("Basic {token}", 401), ("Bearer {token}", 200)],
)
def test_prometheus_brings_the_token_as_a_bearer_header(
    dashboard: Dashboard, header: str | None, status: int
) -> None:
    headers = {"Authorization": header.format(token=dashboard.token)} if header else {}
    assert get(dashboard, "/metrics", headers=headers)[0] == status
