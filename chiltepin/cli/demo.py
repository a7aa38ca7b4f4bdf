"""``chiltepin demo``: the ensemble across two sites."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from chiltepin.cli.console import console


@click.command("demo")
@click.option(
    "--members",
    default=16,
    show_default=True,
    type=click.IntRange(2, 10000),
    help="Ensemble members: one task each, spread over the sites (at least 2 for a spread).",
)
@click.option(
    "--steps",
    default=500,
    show_default=True,
    type=click.IntRange(1, 10**7),
    help="Model time steps per member: how long each task computes.",
)
@click.option(
    "--sites",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A sites file (real endpoints); default: two embedded local sites.",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the run journal goes [default: ~/.chiltepin/runs/<time>-<id>].",
)
@click.option("--progress/--no-progress", default=None, help="[default: on a terminal]")
@click.option(
    "--budget",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop submitting members once the estimated cost would pass this (sites' cost unit).",
)
@click.option(
    "--dashboard",
    is_flag=True,
    help="Serve the run's live dashboard page (its URL is printed) while it runs and after,"
    " until Ctrl-C.",
)
def demo(
    members: int,
    steps: int,
    sites: Path | None,
    run_dir: Path | None,
    progress: bool | None,
    budget: float | None,
    dashboard: bool,
) -> None:
    """Run a Lorenz-96 ensemble forecast fanned out across two sites.

    With no options it needs no Globus account: both sites are engines embedded in this
    process. Prints the ensemble mean and spread and a per-site summary.
    """
    from chiltepin.demo import lorenz96

    logging.basicConfig(level=logging.WARNING)
    lorenz96.run(
        console(),
        members=members,
        steps=steps,
        sites=sites,
        run_dir=run_dir,
        progress=progress,
        budget=budget,
        dashboard=dashboard,
    )


commands = [demo]
