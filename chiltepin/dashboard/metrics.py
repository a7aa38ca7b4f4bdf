"""The dashboard's Prometheus metrics: per run and per site, read from the runs' views at
scrape time.

A custom collector, not module-level metric objects: each scrape builds its families from
the :class:`~chiltepin.dashboard.view.RunView` of each run it covers (the views the server
already keeps, each reading only the journal lines appended since it was last read), so
nothing is kept between scrapes and nothing grows with the number of scrapes.

A scrape covers the runs that are live and those whose journal was written within
:data:`RECENT_S` (a run that finished an hour ago stays visible for that hour, then its
series go stale in Prometheus); older runs are stat'ed, never read
(:meth:`~chiltepin.dashboard.runs.Runs.recent`). Every series has the label ``run``, the
run directory's name; per-site series add ``site``.

What the journal settles (tasks submitted, succeeded, failed; per site attempts placed,
succeeded, failed, retried, failed over, raced; node-hours and cost) are counters. What the
run last wrote in its status line (tasks by state, held tasks, a site's health, workers and
idle workers, batch blocks by state, window, outstanding tasks and placement's estimates)
are gauges, absent until the run wrote one; an estimate is absent until placement has a
sample, and a count the site does not report (an endpoint's blocks, say) is absent rather
than 0. The run's data staging is counted per ``direction`` (in, out), ``source`` and
``destination`` (the collections its pairs name, ``local`` for this machine's files): files
and bytes written, and staging batches ended by ``state`` (ok, failed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from chiltepin.dashboard.runs import Runs, RunState
from chiltepin.dashboard.view import RunView

RECENT_S = 3600.0
RUN = ["run"]
SITE = ["run", "site"]
TRANSFER = ["run", "direction", "source", "destination"]

# (metric, help) of the per-site tallies: attempts counted against a site, as the report
# counts them.
SITE_COUNTERS = {
    "placed": "Attempts placed on the site",
    "succeeded": "Attempts that succeeded on the site",
    "failed": "Attempts that ended failed on the site",
    "retried": "Attempts on the site that were retried",
    "failed_over": "Attempts on the site that failed over to another",
    "raced": "Attempts started on the site as a race",
}
# SiteStatus field → (metric, help): what the run last said of a site.
SITE_GAUGES = {
    "workers": ("chiltepin_site_workers", "Workers the site has"),
    "idle": ("chiltepin_site_workers_idle", "Workers at the site running no task"),
    "capacity": ("chiltepin_site_capacity", "Tasks the site runs at once"),
    "outstanding": ("chiltepin_site_outstanding_tasks", "Attempts out at the site"),
    "window": ("chiltepin_site_window", "Attempts placement lets the site have out at once"),
    "queue_wait_s": ("chiltepin_site_queue_wait_seconds", "Placement's batch-queue wait estimate"),
    "run_s": ("chiltepin_site_run_seconds", "Placement's run-time estimate of a task"),
    "expected_s": ("chiltepin_site_expected_seconds", "Placement's expected time to a result"),
    "failure_rate": ("chiltepin_site_failure_rate", "Placement's failure-rate estimate (0-1)"),
}
# The ``state`` label of chiltepin_site_blocks → its SiteStatus field.
BLOCK_STATES = {"running": "blocks_running", "pending": "blocks_pending"}


class RunsCollector(Collector):
    """Metrics of the runs a scrape covers (see the module's doc), built per scrape."""

    def __init__(self, runs: Runs, recent_s: float = RECENT_S) -> None:
        self.runs = runs
        self.recent_s = recent_s

    def collect(self) -> Iterator[Metric]:
        return iter(families(self.runs.recent(self.recent_s)))


def families(covered: Iterable[tuple[RunView, RunState]]) -> list[Metric]:
    """The metric families of these runs' views."""
    run_info = GaugeMetricFamily(
        "chiltepin_run_info", "1 per run covered; its state", labels=[*RUN, "state"]
    )
    run_counters = {
        name: CounterMetricFamily(f"chiltepin_run_tasks_{name}", text, labels=RUN)
        for name, text in {
            "submitted": "Tasks submitted",
            "succeeded": "Tasks that succeeded",
            "failed": "Tasks that ended failed",
        }.items()
    }
    states = GaugeMetricFamily(
        "chiltepin_run_tasks", "Tasks by state, as the run last said", labels=[*RUN, "state"]
    )
    held = GaugeMetricFamily(
        "chiltepin_run_held_tasks", "Tasks held on the client, as the run last said", labels=RUN
    )
    budget = GaugeMetricFamily("chiltepin_run_budget", "The run's budget", labels=[*RUN, "unit"])
    updated = GaugeMetricFamily(
        "chiltepin_run_updated_timestamp_seconds", "The latest time the journal names", labels=RUN
    )
    site_counters = {
        name: CounterMetricFamily(f"chiltepin_site_tasks_{name}", text, labels=SITE)
        for name, text in SITE_COUNTERS.items()
    }
    node_hours = CounterMetricFamily(
        "chiltepin_site_node_hours", "Node-hours spent on the site so far", labels=SITE
    )
    cost = CounterMetricFamily(
        "chiltepin_site_cost", "Cost so far at the site's price", labels=[*SITE, "unit"]
    )
    healthy = GaugeMetricFamily(
        "chiltepin_site_healthy",
        "1 if the site is healthy, as the run last said",
        labels=[*SITE, "state"],
    )
    site_gauges = {
        field: GaugeMetricFamily(name, f"{text}, as the run last said", labels=SITE)
        for field, (name, text) in SITE_GAUGES.items()
    }
    blocks = GaugeMetricFamily(
        "chiltepin_site_blocks",
        "The site's batch blocks by state (running, pending), as the run last said",
        labels=[*SITE, "state"],
    )
    transfer_bytes = CounterMetricFamily(
        "chiltepin_transfer_bytes", "Bytes the run's staging wrote", labels=TRANSFER
    )
    transfer_files = CounterMetricFamily(
        "chiltepin_transfer_files", "Files the run's staging wrote", labels=TRANSFER
    )
    transfer_batches = CounterMetricFamily(
        "chiltepin_transfer_batches",
        "Staging batches (Globus Transfer tasks, local copies) that ended",
        labels=[*TRANSFER, "state"],
    )

    for view, state in covered:
        run = view.run_dir.name
        counts = view.counts()
        status = view.status
        run_info.add_metric([run, state.value], 1)
        run_counters["submitted"].add_metric([run], counts["tasks"])
        run_counters["succeeded"].add_metric([run], counts["succeeded"])
        run_counters["failed"].add_metric([run], counts["failed"])
        if view.updated is not None:
            updated.add_metric([run], view.updated)
        if status is not None:
            for task_state, n in sorted(status.states.items()):
                states.add_metric([run, task_state], n)
            held.add_metric([run], status.held)
            if status.budget is not None:
                budget.add_metric([run, status.unit], status.budget)
        for row in view.site_rows():
            labels = [run, row["site"]]
            for name, family in site_counters.items():
                family.add_metric(labels, row[name])
            node_hours.add_metric(labels, row["node_hours"])
            cost.add_metric([*labels, row["cost_unit"]], row["cost"])
            _site_status(labels, row["status"], healthy, site_gauges, blocks)
        for row in view.transfer_rows():
            labels = [run, row["direction"], row["source"], row["destination"]]
            transfer_bytes.add_metric(labels, row["bytes"])
            transfer_files.add_metric(labels, row["files"])
            for ended in ("ok", "failed"):
                transfer_batches.add_metric([*labels, ended], row[ended])
    return [
        run_info,
        *run_counters.values(),
        states,
        held,
        budget,
        updated,
        *site_counters.values(),
        node_hours,
        cost,
        healthy,
        *site_gauges.values(),
        blocks,
        transfer_bytes,
        transfer_files,
        transfer_batches,
    ]


def _site_status(
    labels: list[str],
    status: dict[str, Any] | None,
    healthy: GaugeMetricFamily,
    gauges: dict[str, GaugeMetricFamily],
    blocks: GaugeMetricFamily,
) -> None:
    if status is None:
        return
    healthy.add_metric([*labels, status["state"] or ""], 1 if status["healthy"] else 0)
    for field, family in gauges.items():
        if status[field] is not None:
            family.add_metric(labels, status[field])
    for state, field in BLOCK_STATES.items():
        if status[field] is not None:
            blocks.add_metric([*labels, state], status[field])


def registry(runs: Runs) -> CollectorRegistry:
    """A registry of its own (not the process-wide default) holding only the runs'
    collector: the dashboard's ``/metrics`` says nothing about the process it runs in."""
    own = CollectorRegistry(auto_describe=False)
    own.register(RunsCollector(runs))
    return own
