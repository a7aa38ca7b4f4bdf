"""``chiltepin report RUN_DIR``: where the work ran, what it cost, where time went."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chiltepin.cli.console import console
from chiltepin.dashboard.export import write_html
from chiltepin.report import build_report, write_report

_DEFAULT_HTML = Path("")  # what click makes of --html with no OUT: RUN_DIR/report.html


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--png",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the timeline picture [default: RUN_DIR/timeline.png].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON only.")
@click.option(
    "--html",
    type=click.Path(dir_okay=False, path_type=Path),
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[OUT]",
    help="Write only the run's dashboard page as one self-contained HTML file (no network"
    " needed to view it) to OUT [default: RUN_DIR/report.html].",
)
def command(run_dir: Path, png: Path | None, as_json: bool, html: Path | None) -> None:
    """Per-site report of the run in RUN_DIR: tasks, failures, retries, failovers, task
    time, queue wait, batch jobs, node-hours and cost; plus a timeline PNG and report.json.

    Node-hours count each batch job from its first task's start to its last task's end
    (a lower bound of what the scheduler charges); cost uses each site's cost_per_node_hour.
    """
    if html is not None:
        written = write_html(run_dir, None if html == _DEFAULT_HTML else html)
        click.echo(f"wrote {written}")
        return
    if as_json:
        click.echo(json.dumps(build_report(run_dir).as_dict(), indent=2))
        return
    write_report(run_dir, console(), png)
