"""A real endpoint configured from the docker site and started the way users start it,
running its tasks as Slurm jobs on the single-host cluster, reached through the stand-in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from chiltepin.cli.main import cli
from chiltepin.cluster.cluster import SlurmCluster
from chiltepin.system.waiting import wait_until
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint, start_site_endpoint, stop_site_endpoint


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@dataclass
class SlurmSiteEndpoint:
    endpoint: SiteEndpoint
    cluster: SlurmCluster

    @property
    def endpoint_id(self) -> str:
        return self.endpoint.endpoint_id

    def stop_and_check(self) -> None:
        """`chiltepin endpoint stop` leaves no process, Slurm job or job step behind."""
        assert stop_site_endpoint(self.endpoint) == [], "processes left behind"
        wait_until(lambda: not self.cluster.jobs(), 30, interval=0.5)
        assert self.cluster.jobs() == [], "Slurm jobs left behind"
        assert self.cluster.step_processes() == set(), "job steps left behind"


def start_docker_endpoint(
    name: str, standin: GlobusStandIn, cluster: SlurmCluster
) -> SlurmSiteEndpoint:
    endpoint = start_site_endpoint(
        name,
        "docker",
        standin,
        root=Path(os.environ["GLOBUS_COMPUTE_USER_DIR"]),
        overrides=(f"partition={cluster.spec.partition}",),
        environment=cluster.env(),
    )
    return SlurmSiteEndpoint(endpoint, cluster)


@pytest.fixture(scope="module")
def docker_endpoint(
    globus_standin: GlobusStandIn, slurm_cluster: SlurmCluster
) -> Iterator[SlurmSiteEndpoint]:
    running = start_docker_endpoint("e2e-docker", globus_standin, slurm_cluster)
    try:
        yield running
    finally:
        running.stop_and_check()
