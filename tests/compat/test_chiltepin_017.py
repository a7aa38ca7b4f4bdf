"""Chiltepin 0.1.7 resource files are accepted, converted, and refused clearly when they
use a key chiltepin has no equivalent for."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from chiltepin.cli.main import cli
from chiltepin.client.config import load_config, resolve
from chiltepin.errors import ConfigError
from chiltepin.federation import Federation

LEGACY = textwrap.dedent("""\
    compute:
      provider: slurm
      cores_per_node: 40
      nodes_per_block: 2
      exclusive: true
      partition: hera
      queue: batch
      account: gsd-hpcs
      walltime: "10:00:00"
      environment:
        - module load intel
        - export OMP_NUM_THREADS=1
    mpi:
      provider: pbspro
      mpi: true
      max_mpi_apps: 2
      mpi_launcher: mpiexec
      queue: main
      cores_per_node: 128
    service:
      endpoint: 6f1c9c1e-1111-4a4a-8a8a-000000000001
      provider: slurm
      partition: service
    local:
      provider: localhost
      max_workers_per_node: 2
""")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chiltepin.yaml"
    path.write_text(text)
    return path


def test_resource_file_converts_to_sites(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, LEGACY))
    sites = resolve(config, "legacy", tmp_path)
    compute = sites["compute"].site
    assert (compute.scheduler.value, compute.partition, compute.qos, compute.account) == (
        "slurm",
        "hera",
        "batch",
        "gsd-hpcs",
    )
    assert compute.worker_init == ["module load intel", "export OMP_NUM_THREADS=1"]
    assert compute.walltime == "10:00:00" and compute.nodes_per_block == 2
    mpi = sites["mpi"].site
    assert (mpi.scheduler.value, mpi.queue, mpi.mpi, mpi.max_mpi_apps) == (
        "pbspro",
        "main",
        True,
        2,
    )
    assert sites["service"].kind.value == "endpoint"
    assert str(sites["service"].entry.endpoint_id).startswith("6f1c9c1e")
    assert sites["local"].kind.value == "local" and sites["local"].capacity == 2


def test_unsupported_key_is_refused_with_the_supported_list(tmp_path: Path) -> None:
    path = write(tmp_path, "compute:\n  provider: slurm\n  cores_per_node: 4\n  gpus: 2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert f"{path}:4: compute.gpus: Chiltepin 0.1.7 key 'gpus' has no chiltepin equivalent" in text
    assert "supported keys: account, cores_per_node" in text


def test_bad_provider(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"compute\.provider: provider must be one of localhost"):
        load_config(write(tmp_path, "compute:\n  provider: sge\n"))


def test_convert_command_prints_a_sites_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["sites", "convert", str(write(tmp_path, LEGACY))])
    assert result.exit_code == 0, result.output
    converted = yaml.safe_load(result.output)
    assert set(converted["sites"]) == {"compute", "mpi", "service", "local"}
    (tmp_path / "sites.yaml").write_text(result.output)
    assert set(load_config(tmp_path / "sites.yaml").sites) == set(converted["sites"])


def test_federation_runs_on_a_legacy_file(tmp_path: Path) -> None:
    path = write(tmp_path, "laptop:\n  provider: localhost\n  max_workers_per_node: 2\n")
    with Federation(path, run_dir=tmp_path / "run", progress=False) as fed:
        assert list(fed.map(abs, [-1, -2])) == [1, 2]
