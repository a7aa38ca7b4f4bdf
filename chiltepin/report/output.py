"""A run report as a person reads it: the per-site table, plus ``report.json`` and the
timeline picture written into the run directory (used by ``chiltepin report`` and the demo).
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from chiltepin.report.model import RunReport, build_report
from chiltepin.report.timeline import write_timeline


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report_table(report: RunReport) -> Table:
    table = Table(title=f"Run report: {report.run_dir}")
    columns = (
        "site",
        "tasks",
        "succeeded",
        "failed",
        "retries",
        "failovers",
        "task s (p50/p95)",
        "queue s (p50)",
        "jobs",
        "node-hours",
        "cost",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "site" else "right")
    for s in report.sites:
        table.add_row(
            s.site,
            str(s.tasks),
            str(s.succeeded),
            str(s.failed),
            str(s.retries),
            str(s.failovers),
            f"{_seconds(s.task_seconds_median)}/{_seconds(s.task_seconds_p95)}",
            _seconds(s.queue_wait_seconds_median),
            str(s.jobs),
            f"{s.node_hours:.4f}",
            f"{s.cost:.4g} {s.cost_unit}".strip(),
        )
    return table


def beliefs_table(report: RunReport) -> Table:
    """What placement believed of each site (its estimates at the end) beside what it did."""
    table = Table(title="Placement: believed / did")
    for column in ("site", "run s", "queue wait s", "failure rate", "ran at once", "tasks"):
        table.add_column(column, justify="left" if column == "site" else "right")
    placed = {s.site: s.tasks for s in report.sites}
    for e in report.estimates:
        table.add_row(
            e["site"],
            _seconds(e["run_s"]),
            _seconds(e["queue_wait_s"]),
            f"{e['failure_rate']:.2f}",
            str(e["concurrency"]),
            str(placed.get(e["site"], 0)),
        )
    return table


def versions_table(report: RunReport) -> Table:
    """Per endpoint site, what its workers run beside this client (the version pre-flight)."""
    table = Table(title="Versions: workers / client")
    for column in ("site", "python", "dill", "globus-compute-sdk", "verdict"):
        table.add_column(column)
    for site, seen in sorted(report.versions.items()):
        workers, client = seen["workers"], seen["client"]
        verdict = "ok" if not seen.get("mismatch") else "mismatch"
        if seen.get("mismatch") and seen.get("functions_as_source"):
            verdict = "mismatch; functions sent as source"
        table.add_row(
            site,
            *(f"{workers[k] or '?'} / {client[k] or '?'}" for k in ("python", "dill", "sdk")),
            verdict,
        )
    return table


def agents_table(report: RunReport) -> Table:
    """The run's Academy agents: where each ran, how often it was launched, how it stands."""
    table = Table(title=f"Agents: {len(report.agents)}")
    for column in ("agent", "class", "site", "ran on", "launches", "state"):
        table.add_column(column, justify="right" if column == "launches" else "left")
    for a in report.agents:
        state = a.state if a.error is None else f"{a.state}: {a.error}"
        table.add_row(a.agent, a.name, a.site or "-", a.ran_on or "-", str(a.launches), state)
    return table


def write_report(run_dir: Path, console: Console, png: Path | None = None) -> RunReport:
    """Print the tables and write ``report.json`` and the timeline PNG into the run dir."""
    report = build_report(run_dir)
    console.print(report_table(report))
    if report.estimates:
        console.print(beliefs_table(report))
    if report.versions:
        console.print(versions_table(report))
    if report.agents:
        console.print(agents_table(report))
    (run_dir / "report.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    picture = write_timeline(report, png or run_dir / "timeline.png")
    console.print(f"timeline: {picture}\nJSON: {run_dir / 'report.json'}")
    return report
