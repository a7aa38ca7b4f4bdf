"""A real endpoint configured from the docker site, started by `chiltepin endpoint start`,
running its tasks as Slurm jobs on the single-host cluster, reached through the stand-in."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from chiltepin.cli.main import cli
from chiltepin.cluster.cluster import SlurmCluster
from chiltepin.endpoints import lifecycle
from chiltepin.testing import GlobusStandIn


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@dataclass
class RunningEndpoint:
    name: str
    root: Path
    endpoint_id: str
    cluster: SlurmCluster
    started_s: float
    seen: set[int] = field(default_factory=set)

    def remember_processes(self) -> None:
        """Record the endpoint's process tree (user endpoints, interchanges) for the
        leftover check after stop."""
        current = lifecycle.status(self.root, self.name)
        if current.pid is None:
            return
        parent = psutil.Process(current.pid)
        self.seen |= {parent.pid, *(p.pid for p in parent.children(recursive=True))}


def endpoint_env(standin: GlobusStandIn, cluster: SlurmCluster) -> list[str]:
    """What the user endpoints need: a root endpoint clears their environment."""
    env = {
        **standin.client_env(),
        **cluster.env(),
        "HOME": os.environ["HOME"],
        "PYTHONPATH": os.environ["PYTHONPATH"],
        "GLOBUS_COMPUTE_USER_DIR": os.environ["GLOBUS_COMPUTE_USER_DIR"],
    }
    return [arg for k, v in env.items() for arg in ("--env", f"{k}={v}")]


def start_site_endpoint(
    name: str, standin: GlobusStandIn, cluster: SlurmCluster, *extra: str
) -> RunningEndpoint:
    root = Path(os.environ["GLOBUS_COMPUTE_USER_DIR"])
    invoke(
        "endpoint",
        "configure",
        name,
        "--site",
        "docker",
        "--local-services",
        "--force",
        "--set",
        f"partition={cluster.spec.partition}",
        *endpoint_env(standin, cluster),
        *extra,
    )
    started = time.monotonic()
    invoke("endpoint", "start", name)
    endpoint_id = lifecycle.status(root, name).endpoint_id
    assert endpoint_id
    standin.wait_for_endpoint(endpoint_id, timeout=60)
    return RunningEndpoint(name, root, endpoint_id, cluster, started)


def stop_and_check(endpoint: RunningEndpoint) -> None:
    endpoint.remember_processes()
    invoke("endpoint", "stop", endpoint.name)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        endpoint.cluster.jobs() or [p for p in endpoint.seen if psutil.pid_exists(p)]
    ):
        time.sleep(0.5)
    alive = [
        p for p in endpoint.seen if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
    ]
    assert alive == [], f"processes left behind: {alive}"
    assert endpoint.cluster.jobs() == [], "Slurm jobs left behind"
    assert endpoint.cluster.step_processes() == set(), "job steps left behind"


@pytest.fixture(scope="module")
def docker_endpoint(
    globus_standin: GlobusStandIn, slurm_cluster: SlurmCluster
) -> Iterator[RunningEndpoint]:
    endpoint = start_site_endpoint("e2e-docker", globus_standin, slurm_cluster)
    try:
        yield endpoint
    finally:
        stop_and_check(endpoint)
