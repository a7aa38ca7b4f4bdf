"""The docker cluster's files, checked statically (no Docker engine is needed or used).

The point: the docker compose cluster and the single-host cluster get slurm.conf from one
template, and the committed docker/slurm/slurm.conf never drifts from it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml
from click.testing import CliRunner

from chiltepin.cli.cluster import command as cluster_cli
from chiltepin.cluster.config import ClusterSpec, render_slurm_conf
from chiltepin.cluster.docker import (
    DOCKER_CONTROLLER,
    DOCKER_NODES,
    docker_slurm_conf_path,
    render_docker_slurm_conf,
)
from chiltepin.paths import data_dir

DOCKER = data_dir("docker")
SERVICES = {"slurmctld", "c1", "c2", "c3", "login"}


def settings(text: str) -> dict[str, str]:
    conf = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "NodeName=", "PartitionName=")):
            key, _, value = line.partition("=")
            conf[key] = value
    return conf


def test_committed_docker_conf_is_what_the_template_renders() -> None:
    committed = docker_slurm_conf_path().read_text()
    assert committed == render_docker_slurm_conf(), (
        "docker/slurm/slurm.conf drifted from docker/slurm/slurm.conf.j2; "
        "run `chiltepin cluster render-docker` and commit the result"
    )


def test_render_docker_check_command() -> None:
    result = CliRunner().invoke(cluster_cli, ["render-docker", "--check"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_render_docker_writes_file(tmp_path: Path) -> None:
    out = tmp_path / "slurm.conf"
    result = CliRunner().invoke(cluster_cli, ["render-docker", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == render_docker_slurm_conf()


def test_docker_conf_is_the_docker_cluster() -> None:
    text = docker_slurm_conf_path().read_text()
    conf = settings(text)
    assert conf["SlurmctldHost"] == DOCKER_CONTROLLER
    assert conf["AuthType"] == "auth/munge"
    assert conf["CredType"] == "cred/munge"
    assert "CommunicationParameters" not in conf  # containers talk over the compose network
    nodes = re.findall(r"^NodeName=(\S+)", text, flags=re.MULTILINE)
    assert nodes == list(DOCKER_NODES) == ["c1", "c2", "c3"]


def test_both_clusters_share_every_other_setting(tmp_path: Path) -> None:
    single = settings(
        render_slurm_conf(ClusterSpec(state_dir=tmp_path, ctld_port=21000, slurmd_port=21001))
    )
    docker = settings(render_docker_slurm_conf())
    per_cluster = {
        "ClusterName", "SlurmctldHost", "SlurmctldPort", "SlurmdPort", "SlurmUser",
        "AuthType", "CredType", "CommunicationParameters", "StateSaveLocation",
        "SlurmdSpoolDir", "SlurmctldPidFile", "SlurmdPidFile", "SlurmctldLogFile",
        "SlurmdLogFile", "SlurmdTimeout", "MessageTimeout",
    }  # fmt: skip
    shared = (set(single) | set(docker)) - per_cluster
    assert {k: single.get(k) for k in shared} == {k: docker.get(k) for k in shared}
    assert "ProctrackType" in shared and "SchedulerParameters" in shared


def test_compose_file_names_services_and_volumes() -> None:
    compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == SERVICES
    assert {"home", "munge"} <= set(compose["volumes"])
    for name, service in services.items():
        assert service["hostname"] == name
        mounts = service["volumes"]
        assert "home:/home" in mounts, name
        assert "munge:/etc/munge" in mounts, name
        assert "./slurm/slurm.conf:/etc/slurm/slurm.conf:ro" in mounts, name
        # chiltepin builds the image (content-hash tag) and hands it over: compose never builds
        assert "build" not in service
        assert service["image"] == "${CHILTEPIN_IMAGE:-chiltepin-slurm:latest}"
    assert services["slurmctld"]["command"] == ["slurmctld"]
    assert all(services[c]["command"] == ["slurmd"] for c in ("c1", "c2", "c3"))
    assert services["login"]["command"] == ["login"]


def test_dockerfile_installs_the_same_stack() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^FROM debian:12\b", text, flags=re.MULTILINE)
    for package in ("slurmctld", "slurmd", "slurm-client", "munge", "mpich"):
        assert re.search(rf"\s{re.escape(package)}\s", text), package
    assert "pip install" in text and "--no-index" in text  # wheels from the host, no index
    assert "COPY slurm.conf /etc/slurm/slurm.conf" in text


def test_entrypoint_is_valid_bash_and_knows_the_roles() -> None:
    script = DOCKER / "entrypoint.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    for role in ("slurmctld)", "slurmd)", "login)"):
        assert role in text
