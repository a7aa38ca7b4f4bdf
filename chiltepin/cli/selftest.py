"""``chiltepin selftest``: check the endpoint side on this machine, or one site file here."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from chiltepin.cli.console import console

if TYPE_CHECKING:
    from chiltepin.selftest.run import Check


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


@click.command("selftest")
@click.option(
    "--site",
    default=None,
    help="A shipped site name or a site file: run real batch jobs with its settings here.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a site setting (repeatable), e.g. --set account=myproj.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Seconds each check waits for its result (queue wait included).",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where job scripts and output go; on a shared filesystem for MPI "
    "[default: ~/.chiltepin/selftest/SITE-TIME].",
)
@click.option("--json", "as_json", is_flag=True, help="With --site: print the checks as JSON.")
def selftest(
    site: str | None,
    overrides: tuple[str, ...],
    timeout: float,
    run_dir: Path | None,
    as_json: bool,
) -> None:
    """Check this machine, or one site file on it.

    Without --site: render every shipped site, then run Python, shell and 2-rank MPI tasks
    on the 'localhost' site's engine.

    With --site: submit real batch jobs with the site's own settings (partition, account,
    qos, walltime, worker_init, MPI launcher) and run Python, shell and 2-node MPI checks.
    Prints one row per check (pass/FAIL, queue wait, nodes, MPI rank hosts) and, for known
    failures (no account, unknown partition, walltime over the partition's limit, a module
    that is not here), the fix. Exits 1 when a check fails.

    \b
    Examples:
      chiltepin selftest
      chiltepin selftest --site hera --set account=myproj
      chiltepin selftest --site docker --set partition=debug
    """
    logging.basicConfig(level=logging.WARNING)
    if site is None:
        from chiltepin.demo import foundation

        foundation.run(console())
        return
    from chiltepin.selftest.run import run_selftest
    from chiltepin.sites.loader import load_site

    resolved = load_site(site, list(overrides))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    directory = run_dir or Path.home() / ".chiltepin" / "selftest" / f"{resolved.name}-{stamp}"
    out = console(stderr=as_json)
    out.print(f"self-test of site {resolved.name!r}; job scripts and output in {directory}")
    checks = run_selftest(resolved, directory.resolve(), timeout=timeout)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(c) for c in checks], indent=2))
    else:
        out.print(_table(checks))
    if not all(c.ok for c in checks):
        sys.exit(1)


def _table(checks: list[Check]) -> Table:
    table = Table("check", "result", "queue wait", "nodes", "MPI rank hosts", "detail / fix")
    for c in checks:
        note = c.detail + (f"\nfix: {c.fix}" if c.fix else "")
        style = {True: "green", False: "red", None: "dim"}[c.ok]
        table.add_row(
            c.name,
            f"[{style}]{c.verdict}[/{style}]",
            _seconds(c.queue_wait),
            ",".join(c.nodes) or "-",
            ",".join(c.rank_hosts) or "-",
            note,
        )
    return table
