"""Container workers for real: a site with ``container: {runtime: podman, image: ...}`` runs
its workers inside that image, in Slurm jobs of the single-host cluster, and its tasks see
a file that only the image has."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from globus_compute_sdk import Executor, ShellFunction

from chiltepin.cluster.cluster import SlurmCluster
from chiltepin.cluster.images import ImageBuild
from chiltepin.selftest.tasks import IMAGE_MARKER, where
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import start_site_endpoint
from tests.e2e.conftest import SlurmSiteEndpoint

pytestmark = [pytest.mark.slurm, pytest.mark.rabbitmq]


def slurm_jobs_since(cluster: SlurmCluster, since: float) -> dict[str, dict[str, str]]:
    """Every job the controller still knows (``MinJobAge``), submitted after ``since``."""
    out = cluster.run(["scontrol", "show", "job", "-o"], timeout=10).stdout
    jobs = {}
    for line in out.splitlines():
        info = dict(re.findall(r"(\w+)=(\S*)", line))
        submitted = time.mktime(time.strptime(info["SubmitTime"], "%Y-%m-%dT%H:%M:%S"))
        if submitted >= int(since):
            jobs[info["JobId"]] = info
    return jobs


@pytest.mark.timeout(900)  # a cold image build comes first (cached by content hash after)
def test_workers_run_inside_the_sites_image(
    globus_standin: GlobusStandIn, slurm_cluster: SlurmCluster, chiltepin_image: ImageBuild
) -> None:
    assert not Path(IMAGE_MARKER).exists(), "the host must not have the image's marker file"
    started = time.time()
    endpoint = start_site_endpoint(
        "e2e-container",
        "docker",
        globus_standin,
        root=Path(os.environ["GLOBUS_COMPUTE_USER_DIR"]),
        overrides=(
            f"partition={slurm_cluster.spec.partition}",
            f"container.runtime={chiltepin_image.runtime}",
            f"container.image={chiltepin_image.ref}",
        ),
        environment=slurm_cluster.env(),
    )
    running = SlurmSiteEndpoint(endpoint, slurm_cluster)
    try:
        with Executor(endpoint_id=endpoint.endpoint_id) as ex:
            shell = ex.submit(ShellFunction(f"cat {IMAGE_MARKER}")).result(timeout=240)
            python = ex.submit(where).result(timeout=120)
            endpoint.remember_processes()
        jobs = slurm_jobs_since(slurm_cluster, started)
    finally:
        running.stop_and_check()
    proof = f"chiltepin image {chiltepin_image.content_hash}"
    print(f"\ncontainer-worker proof: shell read {shell.stdout.strip()!r}; python saw {python}")
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.strip() == proof
    assert python["image"] == proof
    # The workers were started by a Slurm job of the site, through the container runtime.
    assert jobs, "no Slurm job ran the workers"
    scripts = [
        slurm_cluster.run(["scontrol", "write", "batch_script", job, "-"], timeout=10).stdout
        for job in jobs
    ]
    assert any(
        f"{chiltepin_image.runtime} run" in s and chiltepin_image.ref in s for s in scripts
    ), scripts
