"""`chiltepin cluster` subcommands: a real Slurm cluster on this machine, and the docker conf."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import click

from chiltepin.cluster.cluster import ClusterStatus, SlurmCluster
from chiltepin.cluster.config import (
    DEFAULT_NAME,
    DEFAULT_NODES,
    DEFAULT_PARTITION,
    cluster_spec,
    default_cluster_dir,
)
from chiltepin.cluster.docker import (
    docker_slurm_conf_path,
    render_docker_slurm_conf,
    write_docker_slurm_conf,
)
from chiltepin.cluster.state import load_state

#: ``status`` exits with this when the cluster is not running (like ``systemctl status``).
EXIT_NOT_RUNNING = 3

_DIR_HELP = (
    "Cluster directory holding slurm.conf, state, spool and logs "
    "[default: $XDG_RUNTIME_DIR/chiltepin/clusters/NAME, or ~/.chiltepin/clusters/NAME]."
)


def _directory(name: str, directory: Path | None) -> Path:
    return (directory or default_cluster_dir(name)).expanduser().resolve()


def _export_line(conf: Path) -> str:
    return f"export SLURM_CONF={shlex.quote(str(conf))}"


@click.group("cluster")
def command() -> None:
    """A real Slurm cluster on this machine, for development and tests.

    Starts slurmctld plus N slurmd "fake nodes" (n1, n2, ...) as your user's background
    processes, all on 127.0.0.1 with free ports, so several clusters ("sites") can run side by
    side. No systemd, cgroups or munge needed; needs the Debian packages slurmctld, slurmd and
    slurm-client (./dev setup installs them).

    \b
    Examples:
      eval "$(chiltepin cluster up)"          # start 3 nodes, set SLURM_CONF in this shell
      sbatch -N2 --wrap 'srun hostname'        # use it like any Slurm cluster
      chiltepin cluster status
      chiltepin cluster down
      chiltepin cluster up --name site2 --nodes 2 --max-time 00:30:00   # a second site
    """


@command.command("up")
@click.option(
    "--name",
    default=DEFAULT_NAME,
    show_default=True,
    help="Cluster name (Slurm ClusterName; lowercase letters, digits, - and _).",
)
@click.option(
    "--partition",
    default=DEFAULT_PARTITION,
    show_default=True,
    help="Name of the (default) partition holding every node.",
)
@click.option(
    "--nodes",
    type=click.IntRange(1, 64),
    default=DEFAULT_NODES,
    show_default=True,
    help="Number of fake nodes (slurmd daemons) n1..nN.",
)
@click.option(
    "--dir", "directory", type=click.Path(path_type=Path, file_okay=False), help=_DIR_HELP
)
@click.option(
    "--max-time",
    default="UNLIMITED",
    show_default=True,
    help="Partition MaxTime (walltime limit): HH:MM:SS, D-HH:MM:SS, MM or UNLIMITED. "
    "Jobs asking for more are refused by sbatch.",
)
@click.option(
    "--cpus",
    type=click.IntRange(1, 1024),
    default=None,
    help="CPUs per node [default: nproc of this machine].",
)
@click.option(
    "--ctld-port",
    type=click.IntRange(1024, 65535),
    default=None,
    help="SlurmctldPort [default: a free port on 127.0.0.1].",
)
@click.option(
    "--slurmd-port",
    type=click.IntRange(1024, 65535),
    default=None,
    help="Port of n1's slurmd; n2 uses the next one, ... [default: free ports].",
)
@click.option(
    "--timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for every node to become idle.",
)
def up(
    name: str,
    partition: str,
    nodes: int,
    directory: Path | None,
    max_time: str,
    cpus: int | None,
    ctld_port: int | None,
    slurmd_port: int | None,
    timeout: float,
) -> None:
    """Start a Slurm cluster on this machine and wait until all nodes are idle.

    Prints the `export SLURM_CONF=...` line on stdout (so `eval "$(chiltepin cluster up)"`
    points this shell's sbatch/squeue/srun at the cluster) and a summary on stderr.
    Running it again while the cluster is up does nothing but print the same line.

    \b
    Examples:
      eval "$(chiltepin cluster up)"
      chiltepin cluster up --nodes 2 --partition compute --max-time 01:00:00
      chiltepin cluster up --name site2 --dir /tmp/site2
    """
    spec = cluster_spec(
        source="chiltepin cluster up",
        name=name,
        partition=partition,
        nodes=nodes,
        state_dir=_directory(name, directory),
        max_time=max_time,
        cpus=cpus,
        ctld_port=ctld_port,
        slurmd_port=slurmd_port,
    )
    cluster = SlurmCluster(spec)
    already = cluster.is_up()
    started = time.monotonic()
    cluster.up(timeout=timeout)
    elapsed = time.monotonic() - started
    click.echo(_export_line(cluster.conf_path))
    verb = "already up" if already else f"up in {elapsed:.1f} s"
    s = cluster.spec
    click.echo(
        f"cluster {s.name!r} {verb}: {s.nodes} node(s) {', '.join(s.node_names)} "
        f"({s.cpus} CPUs each), partition {s.partition!r} (MaxTime {s.max_time}), "
        f"slurmctld on 127.0.0.1:{s.ctld_port}\n"
        f"  directory: {s.state_dir}  (logs in {s.log_dir})\n"
        f"  stop with: chiltepin cluster down --dir {shlex.quote(str(s.state_dir))}",
        err=True,
    )


@command.command("down")
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="Cluster name.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    help="Cluster directory (overrides --name's default directory).",
)
@click.option(
    "--timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds between SIGTERM and SIGKILL for each daemon.",
)
def down(name: str, directory: Path | None, timeout: float) -> None:
    """Cancel all jobs and stop the cluster's daemons (by their recorded PIDs).

    Logs and state stay in the cluster directory. Stopping a cluster that is not running is
    not an error.

    \b
    Examples:
      chiltepin cluster down
      chiltepin cluster down --name site2
      chiltepin cluster down --dir /tmp/site2
    """
    path = _directory(name, directory)
    if load_state(path) is None:
        click.echo(f"no cluster recorded in {path}; nothing to stop")
        return
    cluster = SlurmCluster.from_dir(path)
    alive = sum(1 for d in cluster.daemons().values() if d.alive())
    cluster.down(timeout=timeout)
    click.echo(
        f"cluster {cluster.name!r} stopped ({alive} daemon(s)); logs in {cluster.spec.log_dir}"
    )


def _print_status(status: ClusterStatus) -> None:
    state = "up" if status.running else "NOT running"
    click.echo(
        f"cluster {status.name!r}: {state}   partition {status.partition!r} "
        f"(MaxTime {status.max_time}), slurmctld port {status.ctld_port}, dir {status.directory}"
    )
    click.echo(f"  {_export_line(status.conf)}")
    for name, daemon in status.daemons.items():
        alive = "running" if daemon["alive"] else "stopped"
        node_state = status.nodes.get(name, "")
        click.echo(f"  {name:<10} pid {daemon['pid']:<8} {alive:<8} {node_state}")
    if status.jobs:
        click.echo(f"  jobs ({len(status.jobs)}):")
        for job in status.jobs:
            click.echo(f"    {job['id']:<8} {job['state']:<11} {job['name']:<16} {job['nodes']}")
    elif status.running:
        click.echo("  no jobs")


@command.command("status")
@click.option("--name", default=DEFAULT_NAME, show_default=True, help="Cluster name.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    help="Cluster directory (overrides --name's default directory).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def status(name: str, directory: Path | None, as_json: bool) -> None:
    """Show the cluster's daemons, node states and jobs.

    Exits 0 when the controller and every node daemon run, 3 otherwise.

    \b
    Examples:
      chiltepin cluster status
      chiltepin cluster status --name site2 --json | jq .nodes
    """
    path = _directory(name, directory)
    if load_state(path) is None:
        if as_json:
            click.echo(json.dumps({"name": name, "directory": str(path), "running": False}))
        else:
            click.echo(f"no cluster recorded in {path}; start one with: chiltepin cluster up")
        sys.exit(EXIT_NOT_RUNNING)
    report = SlurmCluster.from_dir(path).status()
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_status(report)
    if not report.running:
        sys.exit(EXIT_NOT_RUNNING)


@command.command("render-docker")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write [default: docker/slurm/slurm.conf next to the template].",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 if the file differs from what the template renders.",
)
def render_docker(output: Path | None, check: bool) -> None:
    """Render docker/slurm/slurm.conf for the docker compose cluster.

    The docker cluster (slurmctld, c1..c3, login; auth/munge) and the single-host cluster use
    the same template, docker/slurm/slurm.conf.j2. Run this after editing the template and
    commit the result; a test fails while the two differ.

    \b
    Examples:
      chiltepin cluster render-docker
      chiltepin cluster render-docker --check
    """
    target = output or docker_slurm_conf_path()
    if check:
        current = target.read_text() if target.exists() else None
        if current != render_docker_slurm_conf():
            click.echo(f"{target} is out of date; run: chiltepin cluster render-docker", err=True)
            sys.exit(1)
        click.echo(f"{target} is up to date")
        return
    click.echo(f"wrote {write_docker_slurm_conf(target)}")


@command.group("compose")
def compose() -> None:
    """The compose Slurm cluster (docker/docker-compose.yml): slurmctld, c1..c3, login.

    Uses Docker Engine with compose v2 where it runs, else podman with podman-compose
    (`./dev setup` installs podman and its debian:12 base image). The image is built once per
    content hash of chiltepin and docker/, and reused while nothing changed.

    \b
    Examples:
      chiltepin cluster compose up
      podman exec -it chiltepin_login_1 bash   # docker: docker compose -p chiltepin exec login bash
      chiltepin cluster compose status
      chiltepin cluster compose down
    """


@compose.command("up")
@click.option(
    "--timeout",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds to wait, after the containers start, for c1..c3 to be idle.",
)
def compose_up(timeout: float) -> None:
    """Build (or reuse) the image, start every service, wait until sinfo shows c1..c3 idle."""
    from chiltepin.cluster.compose import ComposeCluster

    cluster = ComposeCluster()
    result = cluster.up(timeout=timeout)
    image = result.image
    verb = f"built in {image.seconds:.0f} s" if image.built else "reused"
    click.echo(
        f"compose cluster up in {result.seconds:.1f} s ({cluster.engine.runtime}; image "
        f"{image.ref} {verb}): c1, c2, c3 idle in partition debug"
    )


@compose.command("down")
def compose_down() -> None:
    """Remove the cluster's containers, network and volumes."""
    from chiltepin.cluster.compose import ComposeCluster

    ComposeCluster().down()
    click.echo("compose cluster removed (containers, network, volumes)")


@compose.command("status")
def compose_status() -> None:
    """Show each service's container state and the nodes' Slurm states.

    Exits 0 when every container runs and c1..c3 are idle, 3 otherwise.
    """
    from chiltepin.cluster.compose import SERVICES, ComposeCluster

    report = ComposeCluster().status()
    for service in SERVICES:
        state = report.containers.get(service, "absent")
        node = report.nodes.get(service, "")
        click.echo(f"  {service:<10} {state:<10} {node}")
    if not report.running:
        sys.exit(EXIT_NOT_RUNNING)
