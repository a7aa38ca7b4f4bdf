"""``chiltepin dashboard``: watch runs live in a browser (see :mod:`chiltepin.dashboard`)."""

from __future__ import annotations

from pathlib import Path

import click

from chiltepin.client.config import default_run_dir
from chiltepin.dashboard.server import LOOPBACK, Dashboard, host_warning
from chiltepin.dashboard.token import token_from_file


@click.command("dashboard")
@click.option(
    "--runs",
    "runs_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The directory whose run directories are shown [default: ~/.chiltepin/runs].",
)
@click.option(
    "--sites",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A sites file whose endpoint sites the endpoints page lists, beside those the runs name.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep the token in this file (written, mode 600, if missing) so it outlives a"
    " restart: point Prometheus's credentials_file at it [default: a new token per start].",
)
@click.option("--host", default=LOOPBACK, show_default=True, help="Address to serve on.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port (0: a free one).")
def command(
    runs_dir: Path | None, sites: Path | None, token_file: Path | None, host: str, port: int
) -> None:
    """Serve a live web page of the runs under RUNS: per site health, workers and what
    placement believes; tasks by state; a timeline; throughput; failures; cost so far.

    Read-only, and only with the token in the printed URL. Runs in other processes are
    read from their journals, so watching spends none of their request budget. The
    endpoints page (/endpoints) lists each endpoint's status and the runs' tasks on it; it
    asks the service for a status only while it is open, at most every 5 s.
    """
    if warning := host_warning(host):
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    token = token_from_file(token_file) if token_file is not None else None
    root = runs_dir or default_run_dir().parent
    dashboard = Dashboard(root, host=host, port=port, sites=sites, token=token)
    try:  # a Ctrl-C as soon as the URL is out is a clean stop too, not click's "Aborted!"
        click.echo(f"chiltepin dashboard of {dashboard.runs.root}: {dashboard.url}")
        click.echo("(the token in the URL is needed on every request; Ctrl-C stops the dashboard)")
        dashboard.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        dashboard.stop()
