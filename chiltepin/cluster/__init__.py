"""A real Slurm cluster on one host, and the docker cluster rendered from the same template.

``SlurmCluster(ClusterSpec(...)).up()`` starts ``slurmctld`` plus N ``slurmd`` fake nodes on
127.0.0.1 (see ``chiltepin cluster --help``); ``chiltepin.cluster.pytest_plugin`` gives tests the
``slurm_cluster`` and ``slurm_cluster_factory`` fixtures.
"""

from chiltepin.cluster.cluster import ClusterStatus, SlurmCluster, SlurmClusterError, in_service
from chiltepin.cluster.config import (
    ClusterSpec,
    cluster_spec,
    default_cluster_dir,
    render_slurm_conf,
)
from chiltepin.cluster.docker import render_docker_slurm_conf, write_docker_slurm_conf
from chiltepin.cluster.slurm import SlurmNotInstalled, missing_binaries

__all__ = [
    "ClusterSpec",
    "ClusterStatus",
    "SlurmCluster",
    "SlurmClusterError",
    "SlurmNotInstalled",
    "cluster_spec",
    "default_cluster_dir",
    "in_service",
    "missing_binaries",
    "render_docker_slurm_conf",
    "render_slurm_conf",
    "write_docker_slurm_conf",
]
