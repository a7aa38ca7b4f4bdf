"""``chiltepin demo``: see chiltepin work on this machine, with no Globus account."""

from __future__ import annotations

import logging

import click
from rich.console import Console


@click.command("demo")
def command() -> None:
    """Render every shipped site and run Python, shell and MPI tasks locally.

    Each site file (hera, hercules, ursa, gaea, derecho, docker, localhost) is rendered
    into a user endpoint config and loaded by globus-compute-endpoint's own loader; then
    the 'localhost' site's engine runs real tasks, including a 2-rank MPI hello.
    """
    from chiltepin.demo import foundation

    logging.basicConfig(level=logging.WARNING)
    foundation.run(Console())
