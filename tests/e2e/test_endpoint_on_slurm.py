"""Issue 3 end to end: the same code a user runs on a laptop, against a real endpoint
running Slurm jobs, through the local Globus stand-in."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest
from globus_compute_sdk import Executor, MPIFunction, ShellFunction
from globus_compute_sdk.errors import TaskExecutionFailed

from chiltepin.selftest.mpi import compile_mpi_hello
from chiltepin.testing import GlobusStandIn
from tests.e2e import tasks
from tests.e2e.conftest import SlurmSiteEndpoint

pytestmark = [pytest.mark.slurm, pytest.mark.rabbitmq]


def test_python_function_runs_in_a_slurm_job(docker_endpoint: SlurmSiteEndpoint) -> None:
    with Executor(endpoint_id=docker_endpoint.endpoint_id, user_endpoint_config={}) as ex:
        result = ex.submit(tasks.slurm_identity, 1).result(timeout=120)
        elapsed = time.monotonic() - docker_endpoint.endpoint.started_at
        print(f"endpoint start to first result: {elapsed:.1f} s")
        docker_endpoint.endpoint.remember_processes()
    assert result["value"] == 101
    assert result["job"] and result["node"] in docker_endpoint.cluster.node_names


def test_shell_function(docker_endpoint: SlurmSiteEndpoint) -> None:
    with Executor(endpoint_id=docker_endpoint.endpoint_id) as ex:
        shell = ex.submit(ShellFunction("echo slurm-job-$SLURM_JOB_ID")).result(timeout=120)
    assert shell.returncode == 0 and shell.stdout.strip().startswith("slurm-job-")


@pytest.mark.mpi
def test_mpi_function_two_nodes_two_ranks(
    docker_endpoint: SlurmSiteEndpoint, tmp_path: Path
) -> None:
    hello = compile_mpi_hello(tmp_path)
    options = {"mpi": True, "nodes_per_block": 2}
    spec = {"num_nodes": 2, "ranks_per_node": 2}
    with Executor(
        endpoint_id=docker_endpoint.endpoint_id,
        user_endpoint_config=options,
        resource_specification=spec,
    ) as ex:
        result = ex.submit(MPIFunction(str(hello))).result(timeout=180)
        docker_endpoint.endpoint.remember_processes()
    assert result.returncode == 0, result.stderr
    nodes = [line.split(" on ")[1] for line in result.stdout.strip().splitlines()]
    assert len(nodes) == 4 and sorted(nodes.count(n) for n in set(nodes)) == [2, 2]


def test_two_user_configs_give_two_user_endpoints(
    docker_endpoint: SlurmSiteEndpoint, globus_standin: GlobusStandIn
) -> None:
    before = len(globus_standin.user_endpoints(docker_endpoint.endpoint_id))
    results = {}
    for walltime in ("00:05:00", "00:07:00"):
        with Executor(
            endpoint_id=docker_endpoint.endpoint_id, user_endpoint_config={"walltime": walltime}
        ) as ex:
            results[walltime] = ex.submit(tasks.slurm_identity, 2).result(timeout=120)
    docker_endpoint.endpoint.remember_processes()
    after = globus_standin.user_endpoints(docker_endpoint.endpoint_id)
    assert len(after) - before == 2
    assert results["00:05:00"]["job"] != results["00:07:00"]["job"]  # separate blocks
    limits = {
        r["job"]: docker_endpoint.cluster.job_info(r["job"]).get("TimeLimit")
        for r in results.values()
    }
    assert sorted(limits.values()) == ["00:05:00", "00:07:00"]


def test_options_rejected_by_the_schema_reach_the_submitter(
    docker_endpoint: SlurmSiteEndpoint,
) -> None:
    with Executor(
        endpoint_id=docker_endpoint.endpoint_id,
        user_endpoint_config={"partition": "debug; rm -rf ~"},
    ) as ex:
        future = ex.submit(tasks.noop, 1)
        with pytest.raises(TaskExecutionFailed, match=r"does not match|partition"):
            future.result(timeout=120)


def test_round_trip_latency(docker_endpoint: SlurmSiteEndpoint) -> None:
    samples = []
    with Executor(
        endpoint_id=docker_endpoint.endpoint_id, api_burst_limit=8, api_burst_window_s=1
    ) as ex:
        ex.submit(tasks.noop, 0).result(timeout=120)
        for i in range(20):
            started = time.perf_counter()
            ex.submit(tasks.noop, i).result(timeout=60)
            samples.append(time.perf_counter() - started)
    p50 = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[-1]
    print(f"no-op round trip over {len(samples)} tasks: p50 {p50:.3f} s, p95 {p95:.3f} s")
    assert p50 < 5
