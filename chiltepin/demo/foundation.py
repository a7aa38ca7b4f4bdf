"""The foundation demo: every shipped site rendered and judged, then real tasks run locally.

It shows the two promises of the endpoint side on any machine, without a Globus account:
each site file becomes a configuration ``globus-compute-endpoint`` accepts, and the engine
a site's template produces really runs Python, shell and MPI work.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from globus_compute_sdk import MPIFunction, ShellFunction
from rich.console import Console
from rich.table import Table

from chiltepin.embedded import EmbeddedEngine
from chiltepin.endpoints.render import render_for_options
from chiltepin.errors import ChiltepinError
from chiltepin.selftest.mpi import compile_mpi_hello
from chiltepin.sites.loader import load_site, shipped_site_names
from chiltepin.upstream import config as upstream


@dataclass(frozen=True)
class SiteRendering:
    """What a site's default user config became, as the endpoint's loader built it."""

    name: str
    scheduler: str
    engine: str
    provider: str
    launcher: str
    capacity: int


def render_site(name: str) -> SiteRendering:
    site = load_site(name)
    config = upstream.load_config_yaml(render_for_options(site, {}, name))
    assert isinstance(config, upstream.UserEndpointConfig) and config.engine is not None
    provider = config.engine.executor.provider
    return SiteRendering(
        name=name,
        scheduler=site.scheduler.value,
        engine=type(config.engine).__name__,
        provider=type(provider).__name__.removesuffix("Provider"),
        launcher=type(provider.launcher).__name__.removesuffix("Launcher"),
        capacity=site.capacity,
    )


def where_am_i(x: int) -> tuple[int, str, int]:
    """A task: square a number and say which host and process did it."""
    return x * x, socket.gethostname(), os.getpid()


def run(console: Console) -> None:
    console.rule("[bold]1. Every shipped site, rendered and loaded by globus-compute-endpoint")
    table = Table("site", "scheduler", "engine", "provider", "launcher", "capacity")
    for name in shipped_site_names():
        r = render_site(name)
        table.add_row(r.name, r.scheduler, r.engine, r.provider, r.launcher, str(r.capacity))
    console.print(table)

    console.rule("[bold]2. Real tasks on the embedded engine of site 'localhost'")
    localhost = load_site("localhost")
    started = time.monotonic()
    with EmbeddedEngine(localhost) as engine:
        squares = [engine.submit(where_am_i, x) for x in range(4)]
        for x, future in enumerate(squares):
            value, host, pid = future.result()
            console.print(f"python  where_am_i({x}) = {value}  (host {host}, worker pid {pid})")
        shell = engine.submit(ShellFunction("echo hello from $(hostname) && uname -sr")).result()
        console.print(f"shell   returncode {shell.returncode}: {shell.stdout.strip()}")
    console.print(f"[dim]engine start to last result: {time.monotonic() - started:.1f} s[/dim]")

    with tempfile.TemporaryDirectory(prefix="chiltepin-demo-") as tmp:
        hello = compile_mpi_hello(Path(tmp))
        with EmbeddedEngine(localhost, {"mpi": True}) as engine:
            spec = {"num_nodes": 1, "ranks_per_node": 2}
            mpi = engine.submit(MPIFunction(str(hello)), resource_specification=spec).result()
        if mpi.returncode != 0:
            raise ChiltepinError(f"MPI hello failed ({mpi.returncode}): {mpi.stderr}")
        for line in sorted(mpi.stdout.strip().splitlines()):
            console.print(f"mpi     {line}")
    console.rule("[green]done")
