"""``chiltepin`` entry point: a click group that the subcommand modules attach to."""

from __future__ import annotations

import sys

import click

from chiltepin import __version__
from chiltepin.errors import ChiltepinError


class _Group(click.Group):
    """Prints :class:`ChiltepinError` as a one-line error and exits 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ChiltepinError as err:
            click.secho(f"error: {err}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chiltepin")
def cli() -> None:
    """Federated scientific workflows on Globus Compute.

    \b
    Endpoint side:  chiltepin endpoint configure NAME --site hera --set account=myproj
    Local Slurm:    chiltepin cluster up     (a real Slurm cluster on this host, for development)
    Try it:         chiltepin demo           (an ensemble on this machine, no Globus account)
    Check a host:   chiltepin selftest       (render every site; Python, shell, MPI tasks)
    Check a site:   chiltepin selftest --site hera --set account=myproj   (real batch jobs)
    """


def _register() -> None:
    from chiltepin.cli import (
        auth,
        cluster,
        dashboard,
        demo,
        endpoint,
        report,
        run,
        selftest,
        sites,
        testing,
    )

    for module in (endpoint, sites, run, report, dashboard, cluster, testing):
        cli.add_command(module.command)
    for command in (*auth.commands, *demo.commands, selftest.selftest):
        cli.add_command(command)


_register()
