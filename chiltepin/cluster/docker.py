"""``slurm.conf`` for the docker compose cluster, rendered from the same template as the
single-host cluster.

The rendered file is committed as ``docker/slurm/slurm.conf`` (docker builds need no Python to
produce it). ``chiltepin cluster render-docker`` rewrites it and a test checks it equals what the
template renders today, so a change to the template reaches both clusters or fails CI.
The values here must match ``docker/docker-compose.yml`` (service/host names, ports, volumes).
"""

from __future__ import annotations

from pathlib import Path

from chiltepin.cluster.config import (
    ControllerConf,
    NodeConf,
    PartitionConf,
    SlurmConf,
    render_conf,
)
from chiltepin.paths import data_dir
from chiltepin.system.files import write_atomically

DOCKER_CLUSTER_NAME = "chiltepin-docker"
DOCKER_CONTROLLER = "slurmctld"
DOCKER_NODES = ("c1", "c2", "c3")
DOCKER_PARTITION = "debug"
#: What each compute container declares (``SlurmdParameters=config_overrides`` makes slurmd use
#: these instead of the container's view of the host, so a small docker VM never drains a node).
DOCKER_CPUS = 2
DOCKER_REAL_MEMORY_MB = 1000
DOCKER_CTLD_PORT = 6817
DOCKER_SLURMD_PORT = 6818


def docker_conf() -> SlurmConf:
    """The docker cluster: ``slurmctld`` + ``c1..c3`` by container hostname, auth/munge."""
    return SlurmConf(
        cluster_name=DOCKER_CLUSTER_NAME,
        controller=ControllerConf(name=DOCKER_CONTROLLER, port=DOCKER_CTLD_PORT),
        nodes=[
            NodeConf(name=node, cpus=DOCKER_CPUS, real_memory=DOCKER_REAL_MEMORY_MB)
            for node in DOCKER_NODES
        ],
        partitions=[PartitionConf(name=DOCKER_PARTITION, nodes="ALL", max_time="UNLIMITED")],
        state_save_dir="/var/spool/slurmctld",
        slurmd_spool_dir="/var/spool/slurmd",
        log_dir="/var/log/slurm",
        pid_dir="/run/slurm",
        auth="munge",
        loopback_only=False,
        slurm_user="root",
        slurmd_timeout=30,
        message_timeout=10,
        default_slurmd_port=DOCKER_SLURMD_PORT,
    )


def render_docker_slurm_conf() -> str:
    """Text of ``docker/slurm/slurm.conf``."""
    return render_conf(docker_conf())


def docker_slurm_conf_path() -> Path:
    """The committed ``docker/slurm/slurm.conf`` (next to the template)."""
    return data_dir("docker") / "slurm" / "slurm.conf"


def write_docker_slurm_conf(path: Path | None = None) -> Path:
    """Render the docker ``slurm.conf`` into ``path`` (default: the committed file)."""
    target = path or docker_slurm_conf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, render_docker_slurm_conf())
    return target
