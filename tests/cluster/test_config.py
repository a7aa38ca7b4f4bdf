"""ClusterSpec validation, slurm.conf rendering, free ports and data-dir lookup (no daemons)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from chiltepin.cluster.config import ClusterSpec, cluster_spec, render_slurm_conf, template_path
from chiltepin.cluster.ports import find_free_ports, port_is_free
from chiltepin.errors import ChiltepinError, ConfigError
from chiltepin.paths import data_dir


def parse_conf(text: str) -> dict[str, str]:
    """slurm.conf's single-valued ``Key=value`` lines as a dict (no comments, nodes, partitions)."""
    conf: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "NodeName=", "PartitionName=")):
            key, _, value = line.partition("=")
            conf[key] = value
    return conf


def lines_starting(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_defaults(tmp_path: Path) -> None:
    spec = ClusterSpec(state_dir=tmp_path)
    assert spec.name == "chiltepin"
    assert spec.partition == "debug"
    assert spec.nodes == 3
    assert spec.node_names == ["n1", "n2", "n3"]
    assert spec.cpus == len(os.sched_getaffinity(0))
    assert spec.real_memory >= 1
    assert spec.max_time == "UNLIMITED"
    assert spec.ctld_port is None and spec.slurmd_port is None


def test_default_directory_follows_name(monkeypatch: pytest.MonkeyPatch) -> None:
    short = Path("/tmp/cht")  # never created: only the path is computed
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short))
    assert ClusterSpec(name="site2").state_dir == short / "chiltepin" / "clusters" / "site2"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("HOME", str(short / "home"))
    expected = short / "home" / ".chiltepin" / "clusters" / "site3"
    assert ClusterSpec(name="site3").state_dir == expected


@pytest.mark.parametrize(
    "value", ["UNLIMITED", "30", "30:00", "01:00:00", "2-00", "2-12:30", "1-00:00:00"]
)
def test_max_time_accepts_slurm_formats(value: str, tmp_path: Path) -> None:
    assert ClusterSpec(state_dir=tmp_path, max_time=value).max_time == value


@pytest.mark.parametrize("value", ["", "1h", "1:2:3:4", "-5", "1-", "01:00:00 ; rm -rf /"])
def test_max_time_rejects_garbage(value: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a Slurm time limit"):
        ClusterSpec(state_dir=tmp_path, max_time=value)


def test_state_dir_must_leave_room_for_unix_sockets() -> None:
    with pytest.raises(ValidationError, match="107-byte limit"):
        ClusterSpec(state_dir="/tmp/" + "x" * 90)


def test_ports_must_not_overlap(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="falls inside the slurmd ports"):
        ClusterSpec(state_dir=tmp_path, ctld_port=20001, slurmd_port=20000, nodes=3)


@pytest.mark.parametrize(
    ("field", "value"), [("name", "Bad Name"), ("partition", "a b"), ("nodes", 0)]
)
def test_cluster_spec_reports_config_error_with_key(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        cluster_spec(source="chiltepin cluster up", **{field: value})
    assert caught.value.key == field
    assert str(caught.value).startswith(f"chiltepin cluster up: {field}: ")


def test_cluster_spec_ignores_none(tmp_path: Path) -> None:
    spec = cluster_spec(state_dir=tmp_path, cpus=None, max_time=None, nodes=2)
    assert spec.nodes == 2 and spec.max_time == "UNLIMITED"


def test_with_ports_picks_free_disjoint_ports(tmp_path: Path) -> None:
    spec = ClusterSpec(state_dir=tmp_path, nodes=4).with_ports()
    assert spec.ctld_port is not None
    node_ports = list(spec.node_ports.values())
    assert node_ports == list(range(node_ports[0], node_ports[0] + 4))
    assert spec.ctld_port not in node_ports
    assert all(port_is_free(p) for p in [spec.ctld_port, *node_ports])
    # A resolved spec still "is" the spec that left the ports open, but not another one.
    assert ClusterSpec(state_dir=tmp_path, nodes=4).compatible_with(spec)
    assert not ClusterSpec(state_dir=tmp_path, nodes=3).compatible_with(spec)
    assert ClusterSpec(state_dir=tmp_path, nodes=3).differences(spec) == ["nodes: 3 != 4"]


def test_render_single_host_conf(tmp_path: Path) -> None:
    spec = ClusterSpec(
        name="site1",
        partition="compute",
        nodes=2,
        ctld_port=21000,
        slurmd_port=21001,
        cpus=4,
        real_memory=2000,
        state_dir=tmp_path,
        max_time="00:30:00",
    )
    text = render_slurm_conf(spec)
    conf = parse_conf(text)
    expected = {
        "ClusterName": "site1",
        "SlurmctldHost": "localhost(127.0.0.1)",
        "SlurmctldPort": "21000",
        "AuthType": "auth/none",
        "CredType": "cred/none",
        "CommunicationParameters": "NoInAddrAny,NoCtldInAddrAny",
        "SchedulerParameters": "batch_sched_delay=0,sched_min_interval=0",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core",
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "MpiDefault": "none",
        "AccountingStorageType": "accounting_storage/none",
        "JobAcctGatherType": "jobacct_gather/none",
        "MailProg": "/bin/true",
        "ReturnToService": "2",
        "SlurmdTimeout": "10",
        "MessageTimeout": "5",
        "EnforcePartLimits": "ALL",
        "StateSaveLocation": f"{tmp_path}/state",
        "SlurmdSpoolDir": f"{tmp_path}/spool/%n",
        "SlurmctldLogFile": f"{tmp_path}/log/slurmctld.log",
        "SlurmdLogFile": f"{tmp_path}/log/slurmd-%n.log",
    }
    assert {k: conf.get(k) for k in expected} == expected
    assert lines_starting(text, "NodeName=") == [
        "NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=21001 CPUs=4 "
        "RealMemory=2000 State=UNKNOWN",
        "NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port=21002 CPUs=4 "
        "RealMemory=2000 State=UNKNOWN",
    ]
    assert lines_starting(text, "PartitionName=") == [
        "PartitionName=compute Nodes=ALL Default=YES MaxTime=00:30:00 State=UP OverSubscribe=NO"
    ]


def test_render_needs_resolved_ports(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="with_ports"):
        render_slurm_conf(ClusterSpec(state_dir=tmp_path))


def test_port_is_free_sees_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not port_is_free(port)
        assert port not in find_free_ports(3, exclude=[port])


def test_data_dir_finds_checkout_dirs() -> None:
    assert (data_dir("docker") / "slurm" / "slurm.conf.j2").is_file()
    assert template_path() == data_dir("docker") / "slurm" / "slurm.conf.j2"
    assert data_dir("templates").is_dir()
    with pytest.raises(ChiltepinError, match="allowed: endpoints, templates, docker"):
        data_dir("nonsense")


def test_data_dir_in_an_installed_wheel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Wheel layout ``chiltepin/_data/<kind>``; ``site-packages/docker`` (docker-py) is ignored."""
    from chiltepin import paths

    site = tmp_path / "site-packages"
    (site / "chiltepin" / "_data" / "docker").mkdir(parents=True)
    (site / "docker").mkdir()  # another distribution's package, not our data
    monkeypatch.setattr(paths, "package_dir", lambda: site / "chiltepin")
    assert data_dir("docker") == site / "chiltepin" / "_data" / "docker"
    with pytest.raises(ChiltepinError, match="_data/templates"):
        data_dir("templates")
