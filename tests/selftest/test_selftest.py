"""`chiltepin selftest --site`: real batch jobs on the single-host Slurm cluster with a site's
own settings, and the fix for each known way a site file fails there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chiltepin.cluster.cluster import SlurmCluster
from chiltepin.cluster.pytest_plugin import ClusterFactory
from chiltepin.selftest.diagnose import Facts, diagnose
from chiltepin.sites.loader import load_site

CHILTEPIN = str(Path(sys.executable).parent / "chiltepin")


def selftest(
    cluster: SlurmCluster, tmp_path: Path, *settings: str, json_out: bool = True
) -> tuple[int, Any]:
    """Run the command as a user would, against ``cluster``; (exit code, checks or text)."""
    command = [CHILTEPIN, "selftest", "--site", "docker", "--run-dir", str(tmp_path / "run")]
    command += [arg for s in settings for arg in ("--set", s)]
    command += ["--timeout", "120"] + (["--json"] if json_out else [])
    env = {**os.environ, **cluster.env()}
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=280, check=False
    )
    print(result.stderr[-2000:] if json_out else result.stdout)
    if not json_out:
        return result.returncode, result.stdout
    return result.returncode, {c["name"]: c for c in json.loads(result.stdout)}


def test_checks_report_nodes_queue_wait_and_mpi_rank_hosts(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    code, checks = selftest(slurm_cluster, tmp_path, "partition=debug")
    assert code == 0, checks
    assert all(c["ok"] for c in checks.values())
    nodes = set(slurm_cluster.node_names)
    assert set(checks["python"]["nodes"]) <= nodes
    assert checks["python"]["queue_wait"] is not None
    mpi = checks["mpi (2 nodes, 2 ranks each)"]
    hosts = mpi["rank_hosts"]
    assert len(hosts) == 4 and len(set(hosts)) == 2 and set(hosts) <= nodes
    assert hosts[0] == hosts[1] and hosts[2] == hosts[3]  # ranks 0,1 on one node, 2,3 on another


def test_unknown_partition_names_the_partitions(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    code, checks = selftest(slurm_cluster, tmp_path, "partition=nosuch")
    assert code == 1
    settings = checks["batch settings"]
    assert settings["ok"] is False
    assert settings["detail"] == "unknown partition 'nosuch'"
    assert "--set partition=NAME" in settings["fix"] and "partitions here: debug" in settings["fix"]
    assert checks["python"]["ok"] is None  # nothing else is submitted


def test_the_table_shows_the_failure_and_its_fix(
    slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    code, text = selftest(slurm_cluster, tmp_path, "partition=nosuch", json_out=False)
    assert code == 1
    for column in ("check", "result", "queue wait", "nodes", "MPI rank hosts", "detail / fix"):
        assert column in text
    assert "FAIL" in text and "unknown partition 'nosuch'" in text
    assert "fix: --set partition=NAME" in text and "not run" in text


def test_walltime_over_the_partition_limit(
    slurm_cluster_factory: ClusterFactory, tmp_path: Path
) -> None:
    short = slurm_cluster_factory("short", nodes=1, partition="short", max_time="00:30:00")
    code, checks = selftest(short, tmp_path, "partition=short", "walltime=01:00:00")
    assert code == 1
    settings = checks["batch settings"]
    assert settings["detail"].startswith("walltime 01:00:00 is over the partition's limit")
    assert "at most 00:30:00" in settings["fix"]


def test_module_that_is_not_here(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    code, checks = selftest(
        slurm_cluster, tmp_path, "partition=debug", "worker_init=[module load nosuchmodule]"
    )
    assert code == 1
    assert checks["python"]["ok"] is True  # the workers still started...
    init = checks["worker_init"]
    assert init["ok"] is False  # ...but the job said the module is missing
    assert "module" in init["detail"] and "worker_init" in init["fix"]


@pytest.mark.parametrize(
    "message",
    [
        # Slurm's own words (src/common/slurm_errno.c) for an account it does not know
        "sbatch: error: Batch job submission failed: Invalid account or account/partition "
        "combination specified",
    ],
)
def test_missing_account_is_mapped_to_the_fix(message: str) -> None:
    site = load_site("hera")
    failure = diagnose(message, site, Facts())
    assert failure is not None
    assert "needs an account" in failure.problem and "--set account=PROJECT" in failure.fix
