"""The compose Slurm cluster for real (podman + podman-compose here, Docker Engine where it
runs): up until c1..c3 are idle, an endpoint in its login container running Python, shell and
2-node MPI tasks through the stand-in, the self-test inside it, and a clean `down`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chiltepin.cluster.compose import SERVICES, ComposeCluster, UpResult
from chiltepin.cluster.docker import DOCKER_NODES

pytestmark = [pytest.mark.slurm, pytest.mark.rabbitmq, pytest.mark.mpi]

REPO = Path(__file__).resolve().parents[2]
Compose = tuple[ComposeCluster, UpResult]


def login_address(cluster: ComposeCluster) -> str:
    result = cluster.exec("login", "hostname", "-i")
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[0]


@pytest.mark.timeout(900)  # a cold image build first (cached by content hash afterwards)
def test_up_waits_until_every_node_is_idle(compose_cluster: Compose) -> None:
    cluster, result = compose_cluster
    status = cluster.status()
    assert {s: status.containers.get(s) for s in SERVICES} == dict.fromkeys(SERVICES, "running")
    assert {n: status.nodes[n] for n in DOCKER_NODES} == dict.fromkeys(DOCKER_NODES, "idle")
    print(f"compose up: {result.seconds:.1f} s, image built: {result.image.built}")


def controller_log(cluster: ComposeCluster) -> str:
    """The controller's log, for a failure's message: what slurmctld was doing then."""
    log = cluster.exec("slurmctld", "tail", "-n", "60", "/var/log/slurm/slurmctld.log")
    return log.stdout + log.stderr


def test_a_two_node_job_spans_two_containers(compose_cluster: Compose) -> None:
    cluster, _ = compose_cluster
    started = time.monotonic()
    job = cluster.exec("login", "srun", "-N2", "hostname", timeout=120)
    took = time.monotonic() - started
    assert job.returncode == 0, f"{job.stderr} after {took:.1f} s\n{controller_log(cluster)}"
    hosts = sorted(job.stdout.split())
    assert len(hosts) == 2 and set(hosts) < set(DOCKER_NODES) and hosts[0] != hosts[1]


def test_a_controller_whose_dns_answers_nothing_still_allocates(compose_cluster: Compose) -> None:
    """slurmctld looks up the name of the client's address inside the allocation RPC. CI 16
    saw that lookup outlast srun's MessageTimeout (10 s) when both nameservers of the
    network's resolv.conf were slow: glibc waits 5 s per nameserver. Here both answer
    nothing at all (two addresses of the compose network that no container holds); the
    cluster's resolver options (RES_OPTIONS in docker-compose.yml) bound the wait to 2 s."""
    cluster, _ = compose_cluster
    address = cluster.exec("slurmctld", "hostname", "-i").stdout.split()[0]
    prefix = address.rsplit(".", 1)[0]
    silent = f"nameserver {prefix}.250\nnameserver {prefix}.251\n"
    quiet = cluster.exec(
        "slurmctld", "sh", "-c",
        f"cp /etc/resolv.conf /tmp/resolv.conf.saved && printf '{silent}' > /etc/resolv.conf",
    )  # fmt: skip
    assert quiet.returncode == 0, quiet.stderr
    try:
        started = time.monotonic()
        job = cluster.exec("login", "srun", "-N2", "hostname", timeout=120)
        took = time.monotonic() - started
    finally:
        restored = cluster.exec(
            "slurmctld", "sh", "-c", "cat /tmp/resolv.conf.saved > /etc/resolv.conf"
        )
    assert restored.returncode == 0, restored.stderr
    assert job.returncode == 0, f"{job.stderr} after {took:.1f} s\n{controller_log(cluster)}"
    assert "Lookup failed" in controller_log(cluster)  # the lookup did go unanswered


@pytest.mark.timeout(600)
def test_endpoint_in_login_runs_python_shell_and_mpi(
    compose_cluster: Compose, tmp_path: Path
) -> None:
    cluster, _ = compose_cluster
    out = tmp_path / "report.json"
    pid = cluster.pid("login")
    # The driver shares login's network namespace only: its stand-in on 127.0.0.1:5000 is the
    # endpoint's localhost:5000, and no traffic leaves loopback and the compose network.
    driver = [
        "nsenter", f"--net=/proc/{pid}/ns/net",
        sys.executable, "-m", "tests.e2e.compose_endpoint", str(out), cluster.project,
    ]  # fmt: skip
    result = subprocess.run(
        driver, cwd=REPO, capture_output=True, text=True, timeout=540, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    report = json.loads(out.read_text())
    print(f"\nendpoint in compose login: {json.dumps(report, indent=1)}")
    python = report["python"]
    assert python["node"] in DOCKER_NODES and python["job"]
    assert python["image"].startswith("chiltepin image ")
    node, host = report["shell"].split()
    assert node in DOCKER_NODES and host == node
    mpi = report["mpi"]
    assert mpi["returncode"] == 0
    ranks = dict(
        (int(line.split()[1]), line.split()[-1]) for line in mpi["stdout"].strip().splitlines()
    )
    assert sorted(ranks) == [0, 1, 2, 3]
    assert ranks[0] == ranks[1] != ranks[2] == ranks[3]  # two ranks on each of two containers
    assert {ranks[0], ranks[2]} < set(DOCKER_NODES)
    assert report["jobs_left"] is True  # the queue emptied after `endpoint stop`


@pytest.mark.timeout(600)
def test_selftest_inside_the_compose_cluster(compose_cluster: Compose) -> None:
    cluster, _ = compose_cluster
    command = ["chiltepin", "selftest", "--site", "docker", "--set", "partition=debug"]
    command += ["--set", f"address={login_address(cluster)}", "--timeout", "240"]
    command += ["--run-dir", "/home/chiltepin/selftest", "--json"]
    result = cluster.exec("login", *command, timeout=560)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    print(f"\nselftest --site docker in compose: {json.dumps(checks, indent=1)}")
    assert all(c["ok"] for c in checks.values())
    hosts = checks["mpi (2 nodes, 2 ranks each)"]["rank_hosts"]
    assert len(set(hosts)) == 2 and set(hosts) < set(DOCKER_NODES)


def test_down_removes_containers_network_and_volumes(compose_cluster: Compose) -> None:
    cluster, _ = compose_cluster
    cluster.down()
    assert cluster.status().containers == {}
    engine = cluster.engine
    assert cluster.project.startswith("chiltepin-")  # this session's own project
    label = f"label=com.docker.compose.project={cluster.project}"
    for kind in ("network", "volume"):
        assert engine.run(kind, "ls", "-q", "--filter", label).split() == [], kind
