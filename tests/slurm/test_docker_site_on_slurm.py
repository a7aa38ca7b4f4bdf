"""The docker site's rendered engine runs for real through sbatch on the single-host cluster."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest
from globus_compute_sdk import MPIFunction, ShellFunction
from globus_compute_sdk.errors import TaskExecutionFailed

from chiltepin.cluster.cluster import SlurmCluster
from chiltepin.embedded import EmbeddedEngine
from chiltepin.selftest.mpi import compile_mpi_hello
from chiltepin.sites.loader import load_site
from chiltepin.system.waiting import wait_until
from tests.engine.workers import worker_pools
from tests.slurm import tasks

pytestmark = pytest.mark.slurm


@pytest.fixture
def slurm_env(slurm_cluster: SlurmCluster, monkeypatch: pytest.MonkeyPatch) -> SlurmCluster:
    """Point this process's Slurm clients (Parsl's sbatch/squeue calls) at the cluster."""
    for key in [k for k in os.environ if k.startswith("SLURM_")]:
        monkeypatch.delenv(key)
    for key, value in slurm_cluster.env().items():
        monkeypatch.setenv(key, value)
    return slurm_cluster


def wait_for_empty_queue(cluster: SlurmCluster, timeout: float = 30) -> list[dict[str, str]]:
    """Slurm's queue once it is empty, or as it still is after ``timeout`` seconds."""
    jobs: list[dict[str, str]] = []

    def empty() -> bool:
        jobs[:] = cluster.jobs()
        return not jobs

    wait_until(empty, timeout, interval=0.5)
    return jobs


def test_python_shell_and_errors_through_sbatch(slurm_env: SlurmCluster, tmp_path: Path) -> None:
    site = load_site("docker")
    started = time.monotonic()
    with EmbeddedEngine(site, {"partition": "debug"}, run_dir=tmp_path) as engine:
        first = engine.submit(tasks.where_am_i, 14).result(timeout=120)
        first_result_s = time.monotonic() - started
        assert first["value"] == 42
        assert first["job"] and first["job"].isdigit()
        assert first["node"] in slurm_env.node_names
        assert any(job["id"] == first["job"] for job in slurm_env.jobs())  # a real batch job
        assert worker_pools(tmp_path)  # seen from here, so the check below can fail

        shell = engine.submit(ShellFunction("echo job=$SLURM_JOB_ID")).result(timeout=60)
        assert shell.returncode == 0 and shell.stdout.strip() == f"job={first['job']}"

        with pytest.raises(TaskExecutionFailed, match="RuntimeError: raised inside a Slurm job"):
            engine.submit(tasks.explode).result(timeout=60)
    print(f"first result from a Slurm job after {first_result_s:.1f} s")
    assert wait_for_empty_queue(slurm_env) == []
    assert not worker_pools(tmp_path), "a worker outlived the engine"


@pytest.mark.mpi
def test_mpi_two_nodes_two_ranks_each(slurm_env: SlurmCluster, tmp_path: Path) -> None:
    hello = compile_mpi_hello(tmp_path)
    site = load_site("docker")
    options = {"partition": "debug", "mpi": True, "nodes_per_block": 2}
    with EmbeddedEngine(site, options, run_dir=tmp_path / "run") as engine:
        spec = {"num_nodes": 2, "ranks_per_node": 2}
        result = engine.submit(MPIFunction(str(hello)), resource_specification=spec).result(180)
        jobs = slurm_env.jobs()
    assert result.returncode == 0, result.stderr
    lines = sorted(result.stdout.strip().splitlines())
    assert [line.split(" on ")[0] for line in lines] == [f"rank {r} of 4" for r in range(4)]
    per_node = Counter(line.split(" on ")[1] for line in lines)
    assert sorted(per_node.values()) == [2, 2], per_node  # two ranks on each of two nodes
    assert set(per_node) <= set(slurm_env.node_names)
    assert len([j for j in jobs if j["state"] == "RUNNING"]) == 1  # one 2-node Slurm job
    assert wait_for_empty_queue(slurm_env) == []
