"""Drive an endpoint inside the compose cluster's login container, through the stand-in.

Run by tests/e2e/test_compose_cluster.py as
``nsenter --net=/proc/<login pid>/ns/net python -m tests.e2e.compose_endpoint OUT.json
PROJECT`` (the compose project of the test's cluster):
this process shares the login container's network namespace (and nothing else), so the
stand-in it starts on 127.0.0.1:5000 is the ``localhost:5000`` that the endpoint's ``local``
environment hard-wires, and all traffic stays on that loopback and the compose network.
The endpoint itself runs in the login container (``chiltepin endpoint configure/start``
through ``podman/docker exec``); its workers run in Slurm jobs on c1..c3.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from globus_compute_sdk import Executor, MPIFunction, ShellFunction

from chiltepin.cluster.compose import ComposeCluster
from chiltepin.selftest.tasks import where
from chiltepin.system.waiting import wait_until
from chiltepin.testing.session import offline_session

NAME = "compose-docker"
CONFIG_DIR = "/home/chiltepin/.globus_compute"
MPI_HELLO = "/home/chiltepin/mpi_hello"
HELLO_SOURCE = "/opt/chiltepin/lib/python3.11/site-packages/chiltepin/selftest/mpi_hello.c"


def login(cluster: ComposeCluster, *command: str, env: dict[str, str] | None = None) -> str:
    result = cluster.exec("login", *command, env=env, timeout=180)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in login:\n{result.stdout}{result.stderr}")
    return result.stdout


def run(out: Path, project: str) -> None:
    cluster = ComposeCluster(project=project)
    login(cluster, "mpicc", HELLO_SOURCE, "-o", MPI_HELLO)
    # Parsl wants the interchange's address as an IP: login's on the compose network.
    address = login(cluster, "hostname", "-i").split()[0]
    report: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="chiltepin-compose-") as base,
        offline_session(Path(base), port=5000) as standin,  # login's own loopback
    ):
        env = {**standin.client_env(), "GLOBUS_COMPUTE_USER_DIR": CONFIG_DIR}
        configure = ["chiltepin", "endpoint", "configure", NAME, "--site", "docker", "--force"]
        configure += ["--set", "partition=debug", "--set", f"address={address}", "--local-services"]
        configure += [arg for k, v in env.items() for arg in ("--env", f"{k}={v}")]
        login(cluster, *configure, env=env)
        login(cluster, "chiltepin", "endpoint", "start", NAME, env=env)
        try:
            status = json.loads(
                login(cluster, "chiltepin", "endpoint", "status", NAME, "--json", env=env)
            )
            endpoint_id = status["endpoint_id"]
            standin.wait_for_endpoint(endpoint_id, timeout=60)
            started = time.monotonic()
            with Executor(endpoint_id=endpoint_id) as ex:
                report["python"] = ex.submit(where).result(timeout=300)
                shell = ex.submit(ShellFunction("echo $SLURMD_NODENAME $(hostname)"))
                report["shell"] = shell.result(timeout=120).stdout.strip()
            report["first_results_s"] = time.monotonic() - started
            spec = {"num_nodes": 2, "ranks_per_node": 2}
            options = {"mpi": True, "nodes_per_block": 2}
            with Executor(
                endpoint_id=endpoint_id, user_endpoint_config=options, resource_specification=spec
            ) as ex:
                mpi = ex.submit(MPIFunction(MPI_HELLO)).result(timeout=300)
            report["mpi"] = {"returncode": mpi.returncode, "stdout": mpi.stdout}
        finally:
            login(cluster, "chiltepin", "endpoint", "stop", NAME, env=env)
        report["jobs_left"] = wait_until(
            lambda: login(cluster, "squeue", "-h") == "", 60, interval=1
        )
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    run(Path(sys.argv[1]), sys.argv[2])
