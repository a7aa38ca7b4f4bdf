"""`chiltepin cluster up/status/down` end to end, with real daemons."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from chiltepin.cli.cluster import EXIT_NOT_RUNNING
from chiltepin.cli.cluster import command as cluster_cli
from chiltepin.cluster.pytest_plugin import require_slurm
from chiltepin.system import processes


@pytest.fixture
def cluster_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_slurm()
    return tmp_path_factory.mktemp("cli")


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cluster_cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.slurm
def test_up_status_down(cluster_dir: Path) -> None:
    where = ["--dir", str(cluster_dir)]
    try:
        code, out, err = invoke(
            "up", "--name", "clitest", "--nodes", "2", "--max-time", "10", *where
        )
        assert code == 0, err
        assert out == f"export SLURM_CONF={cluster_dir / 'slurm.conf'}\n"
        assert "cluster 'clitest' up in" in err and "n1, n2" in err and "MaxTime 10" in err

        code, out, err = invoke(
            "up", "--name", "clitest", "--nodes", "2", "--max-time", "10", *where
        )
        assert code == 0 and "already up" in err

        code, out, _ = invoke("status", *where)
        assert code == 0
        assert "cluster 'clitest': up" in out and "IDLE" in out

        code, out, _ = invoke("status", "--json", *where)
        status = json.loads(out)
        assert code == 0 and status["running"] is True
        assert status["nodes"] == {"n1": "IDLE", "n2": "IDLE"}
        pids = [d["pid"] for d in status["daemons"].values()]
        assert len(pids) == 3 and all(processes.alive(p) for p in pids)
    finally:
        code, out, _ = invoke("down", *where)
    assert code == 0 and "stopped (3 daemon(s))" in out
    assert not [p for p in pids if processes.alive(p)]

    code, out, _ = invoke("status", "--json", *where)
    assert code == EXIT_NOT_RUNNING and json.loads(out)["running"] is False
    code, out, _ = invoke("down", *where)
    assert code == 0


def test_status_and_down_of_unknown_cluster(tmp_path: Path) -> None:
    code, out, _ = invoke("status", "--dir", str(tmp_path))
    assert code == EXIT_NOT_RUNNING and "no cluster recorded" in out
    code, out, _ = invoke("down", "--dir", str(tmp_path))
    assert code == 0 and "nothing to stop" in out


def test_bad_option_is_a_one_line_error(tmp_path: Path) -> None:
    """Through the real `chiltepin` entry point: a ConfigError, not a traceback."""
    main = "from chiltepin.cli.main import cli; cli()"
    args = ["cluster", "up", "--max-time", "1:2:3:4", "--dir", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-c", main, *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1, result.stderr
    assert "error: chiltepin cluster up: max_time: '1:2:3:4' is not a Slurm time limit" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cluster.json").exists()


@pytest.mark.parametrize("sub", ["up", "down", "status", "render-docker"])
def test_help_has_examples(sub: str) -> None:
    result = CliRunner().invoke(cluster_cli, [sub, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and f"chiltepin cluster {sub}" in result.output
