"""``chiltepin report RUN_DIR``: where the work ran, what it cost, where time went."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from chiltepin.cli.console import console
from chiltepin.report import RunReport, build_report, write_timeline


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report_table(report: RunReport) -> Table:
    table = Table(title=f"Run report: {report.run_dir}")
    columns = (
        "site",
        "tasks",
        "ok",
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
            str(s.successes),
            str(s.failures),
            str(s.retries),
            str(s.failovers),
            f"{_seconds(s.task_seconds_median)}/{_seconds(s.task_seconds_p95)}",
            _seconds(s.queue_wait_seconds_median),
            str(s.jobs),
            f"{s.node_hours:.4f}",
            f"{s.cost:.4g} {s.cost_unit}".strip(),
        )
    return table


def write_report(run_dir: Path, console: Console, png: Path | None = None) -> RunReport:
    """Print the table and write ``report.json`` and the timeline PNG into the run dir."""
    report = build_report(run_dir)
    console.print(report_table(report))
    (run_dir / "report.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    picture = write_timeline(report, png or run_dir / "timeline.png")
    console.print(f"timeline: {picture}\nJSON: {run_dir / 'report.json'}")
    return report


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--png",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the timeline picture [default: RUN_DIR/timeline.png].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON only.")
def command(run_dir: Path, png: Path | None, as_json: bool) -> None:
    """Per-site report of a run: tasks, failures, retries, failovers, task time, queue
    wait, batch jobs, node-hours and cost; plus a timeline PNG and report.json.

    Node-hours count each batch job from its first task's start to its last task's end
    (a lower bound of what the scheduler charges); cost uses each site's cost_per_node_hour.
    """
    if as_json:
        click.echo(json.dumps(build_report(run_dir).as_dict(), indent=2))
        return
    write_report(run_dir, console(), png)
