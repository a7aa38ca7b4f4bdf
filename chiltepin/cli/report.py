"""``chiltepin report RUN_DIR``: where the work ran, what it cost, where time went."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chiltepin.cli.console import console
from chiltepin.report import build_report, write_report


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
    """Per-site report of the run in RUN_DIR: tasks, failures, retries, failovers, task
    time, queue wait, batch jobs, node-hours and cost; plus a timeline PNG and report.json.

    Node-hours count each batch job from its first task's start to its last task's end
    (a lower bound of what the scheduler charges); cost uses each site's cost_per_node_hour.
    """
    if as_json:
        click.echo(json.dumps(build_report(run_dir).as_dict(), indent=2))
        return
    write_report(run_dir, console(), png)
