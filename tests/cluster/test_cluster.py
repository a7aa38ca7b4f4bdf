"""The single-host Slurm cluster, for real: daemons, jobs, two sites, teardown, node failure."""

from __future__ import annotations

import re
from pathlib import Path

import psutil
import pytest

from chiltepin.cluster.cluster import SlurmCluster, SlurmClusterError, in_service
from chiltepin.cluster.config import ClusterSpec
from chiltepin.cluster.pytest_plugin import ClusterFactory, require_slurm
from chiltepin.system import processes
from chiltepin.system.waiting import wait_until


def listening_addresses(port: int) -> set[str]:
    """Addresses (IPv4 and IPv6) with a LISTEN socket on ``port``."""
    return {
        c.laddr.ip
        for c in psutil.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    }


def pids_written(path: Path, count: int, timeout: float = 15.0) -> list[int]:
    """The PIDs job tasks write to ``path``, once ``count`` of them are there."""

    def written() -> list[int]:
        pids = path.read_text().split() if path.exists() else []
        return [int(p) for p in pids] if len(pids) >= count else []

    return wait_until(written, timeout, interval=0.05, what=f"{count} PID(s) in {path}")


def test_three_idle_nodes_on_loopback(slurm_cluster: SlurmCluster) -> None:
    # Waits rather than asserts at once: a test that ran earlier may have a job completing.
    states = slurm_cluster.wait_for_nodes(timeout=15)
    assert states == {"n1": "IDLE", "n2": "IDLE", "n3": "IDLE"}
    assert slurm_cluster.is_up()
    sinfo = slurm_cluster.run(["sinfo", "-h", "-o", "%P %D %t"]).stdout.split()
    assert sinfo == ["debug*", "3", "idle"]
    spec = slurm_cluster.spec
    assert spec.ctld_port is not None
    for port in [spec.ctld_port, *spec.node_ports.values()]:
        assert listening_addresses(port) == {"127.0.0.1"}, port
    assert slurm_cluster.env() == {"SLURM_CONF": str(spec.state_dir / "slurm.conf")}


def test_sbatch_wrap_output_names_the_node(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    out = tmp_path / "job.out"
    job = slurm_cluster.sbatch(
        "-w", "n2", "-o", str(out), "--wrap", "echo node=$SLURMD_NODENAME job=$SLURM_JOB_ID"
    )
    info = slurm_cluster.wait_job(job)
    assert info["JobState"] == "COMPLETED"
    assert out.read_text().split() == ["node=n2", f"job={job}"]


def test_two_node_job_spans_two_nodes(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    out = tmp_path / "job.out"
    script = (
        "#!/bin/bash\n"
        "echo nodelist=$SLURM_JOB_NODELIST\n"
        "srun -l bash -c 'echo step-node=$SLURMD_NODENAME'\n"
    )
    job = slurm_cluster.sbatch("-N2", "-o", str(out), script=script)
    info = slurm_cluster.wait_job(job)
    assert info["JobState"] == "COMPLETED", out.read_text()
    lines = out.read_text().splitlines()
    nodelist = lines[0].removeprefix("nodelist=")
    expanded = slurm_cluster.run(["scontrol", "show", "hostnames", nodelist]).stdout.split()
    assert len(expanded) == 2
    step_nodes = sorted(re.findall(r"^\d+: step-node=(\S+)$", "\n".join(lines), re.MULTILINE))
    assert step_nodes == sorted(expanded)


def test_srun_runs_one_task_per_node(slurm_cluster: SlurmCluster) -> None:
    result = slurm_cluster.run(["srun", "-N3", "-n3", "-l", "printenv", "SLURMD_NODENAME"])
    assert sorted(result.stdout.split()) == ["0:", "1:", "2:", "n1", "n2", "n3"]


def test_up_again_adopts_the_running_cluster(slurm_cluster: SlurmCluster) -> None:
    before = {n: d.pid for n, d in slurm_cluster.daemons().items()}
    again = SlurmCluster(
        ClusterSpec(name=slurm_cluster.name, state_dir=slurm_cluster.directory)
    ).up()
    assert again.spec == slurm_cluster.spec  # same ports, chosen at the first up
    assert {n: d.pid for n, d in again.daemons().items()} == before
    with pytest.raises(SlurmClusterError, match="nodes: 2 != 3"):
        SlurmCluster(
            ClusterSpec(name=slurm_cluster.name, nodes=2, state_dir=slurm_cluster.directory)
        ).up()
    assert slurm_cluster.is_up()


def test_two_clusters_are_independent(
    slurm_cluster: SlurmCluster, slurm_cluster_factory: ClusterFactory, tmp_path: Path
) -> None:
    site2 = slurm_cluster_factory("site2", nodes=2, partition="batch", max_time="00:01:00")
    assert site2.spec.ctld_port != slurm_cluster.spec.ctld_port
    assert not set(site2.spec.node_ports.values()) & set(slurm_cluster.spec.node_ports.values())
    assert site2.node_states() == {"n1": "IDLE", "n2": "IDLE"}
    assert site2.run(["sinfo", "-h", "-o", "%P %D %l"]).stdout.split() == ["batch*", "2", "1:00"]
    config = site2.run(["scontrol", "show", "config"]).stdout
    assert re.search(r"^ClusterName\s*=\s*site2$", config, re.MULTILINE)

    held = site2.sbatch("--hold", "-t", "00:00:30", "--wrap", "true")
    try:
        assert [j["id"] for j in site2.jobs()] == [held]
        assert held not in [j["id"] for j in slurm_cluster.jobs()]
    finally:
        site2.run(["scancel", held])

    # The partition's MaxTime is enforced at submission (EnforcePartLimits=ALL) on site2 only.
    refused = site2.run(["sbatch", "-t", "00:05:00", "--wrap", "true"], check=False)
    assert refused.returncode != 0 and "time limit" in refused.stderr.lower()
    out = tmp_path / "long.out"
    accepted = slurm_cluster.sbatch("-t", "00:05:00", "-o", str(out), "--wrap", "true")
    assert slurm_cluster.wait_job(accepted)["JobState"] == "COMPLETED"


def test_down_leaves_no_daemon_and_no_job(
    slurm_cluster_factory: ClusterFactory, tmp_path: Path
) -> None:
    cluster = slurm_cluster_factory("downtest", nodes=2)
    pidfile = tmp_path / "task.pid"
    cluster.sbatch(
        "-N2",
        "-o",
        "/dev/null",
        "--wrap",
        f"srun -l bash -c 'echo $$ >> {pidfile}; exec sleep 300'",
    )
    task_pids = pids_written(pidfile, 2)
    assert len(task_pids) == 2 and all(processes.alive(p) for p in task_pids)
    steps = cluster.step_processes()
    assert set(task_pids) <= steps
    daemons = cluster.daemons()
    assert set(daemons) == {"slurmctld", "n1", "n2"}

    cluster.down()

    for name, record in daemons.items():
        assert not processes.alive(record.pid), f"{name} (pid {record.pid}) still runs"
    assert not [p for p in steps | set(task_pids) if processes.alive(p)]
    assert not cluster.is_up()
    assert not cluster.status().running
    cluster.down()  # idempotent


def test_killed_node_goes_down_and_comes_back(
    slurm_cluster_factory: ClusterFactory, tmp_path: Path
) -> None:
    # Short timeouts so the controller notices within a few seconds (see slurm.conf.j2).
    cluster = slurm_cluster_factory("killtest", nodes=2, slurmd_timeout=5, message_timeout=2)
    pidfile = tmp_path / "task.pid"
    cluster.sbatch("-w", "n1", "-o", "/dev/null", "--wrap", f"echo $$ > {pidfile}; exec sleep 300")
    (task,) = pids_written(pidfile, 1)
    slurmd = cluster.daemons()["n1"].pid

    killed = cluster.kill_node("n1")

    assert slurmd in killed and task in killed
    assert not processes.alive(slurmd) and not processes.alive(task)
    assert cluster.daemons()["n2"].alive()
    states = cluster.wait_for_nodes(
        ["n1"], until=lambda s: "NOT_RESPONDING" in s or s.startswith("DOWN"), timeout=20
    )
    assert states["n2"] in ("IDLE", "MIXED", "ALLOCATED")

    cluster.restart_node("n1", timeout=20)
    assert in_service(cluster.node_states()["n1"])
    assert cluster.daemons()["n1"].alive() and cluster.daemons()["n1"].pid != slurmd
    cluster.down()  # done with it: spare the machine its daemons for the rest of the session


def test_set_node_state_down_and_resume(slurm_cluster: SlurmCluster) -> None:
    try:
        slurm_cluster.set_node_state("n3", "down", reason="test")
        assert slurm_cluster.node_states()["n3"].startswith("DOWN")
    finally:
        slurm_cluster.set_node_state("n3", "resume")
    slurm_cluster.wait_for_nodes(["n3"], timeout=10)
    with pytest.raises(SlurmClusterError, match="no node 'n9'"):
        slurm_cluster.set_node_state("n9", "down")


def test_wait_timeout_shows_daemon_logs(slurm_cluster: SlurmCluster) -> None:
    with pytest.raises(SlurmClusterError) as caught:
        slurm_cluster.wait_for_nodes(until=lambda state: False, timeout=0.3)
    message = str(caught.value)
    assert "nodes not ready after 0 s" in message
    assert "tail of" in message and "slurmctld.log" in message


def test_busy_port_is_reported_before_starting(
    tmp_path_factory: pytest.TempPathFactory, slurm_cluster: SlurmCluster
) -> None:
    busy = slurm_cluster.spec.ctld_port
    spec = ClusterSpec(name="busy", nodes=1, ctld_port=busy, state_dir=tmp_path_factory.mktemp("b"))
    with pytest.raises(SlurmClusterError, match=f"slurmctld:{busy}"):
        SlurmCluster(spec).up()


@pytest.mark.slurm
def test_context_manager_and_up_restarting_a_dead_daemon(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    require_slurm()
    spec = ClusterSpec(name="ctx", nodes=1, state_dir=tmp_path_factory.mktemp("ctx"))
    with SlurmCluster(spec, die_with_parent=True) as cluster:
        job = cluster.sbatch("-o", "/dev/null", "--wrap", "sleep 300")
        cluster.wait_for_nodes(until=lambda s: s.startswith(("ALLOCATED", "MIXED")), timeout=15)
        old = cluster.daemons()["n1"].pid
        processes.kill_now([old])  # slurmd only: its job step survives, as after a slurmd crash
        cluster.up()  # adopts the running cluster, restarts n1, accepts the busy node
        assert cluster.daemons()["n1"].pid != old
        assert in_service(cluster.node_states()["n1"])
        assert [j["id"] for j in cluster.jobs()] == [job]
        daemons = cluster.daemons()
    assert not [d for d in daemons.values() if d.alive()]
