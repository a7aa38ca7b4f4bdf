"""The embedded engine of the `localhost` site runs real tasks through Parsl HTEX."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from globus_compute_sdk import MPIFunction, ShellFunction
from globus_compute_sdk.errors import TaskExecutionFailed

from chiltepin.embedded import EmbeddedEngine
from chiltepin.errors import ConfigError
from chiltepin.selftest.mpi import compile_mpi_hello
from chiltepin.sites.loader import load_site
from tests.engine.workers import worker_pools


def identify(x: int) -> tuple[int, int]:
    return x + 1, os.getpid()


def explode() -> None:
    raise ValueError("remote failure 42")


def test_python_shell_and_errors_on_the_local_engine(tmp_path: Path) -> None:
    with EmbeddedEngine(
        load_site("localhost"), {"max_workers_per_node": 2}, run_dir=tmp_path
    ) as engine:
        results = [engine.submit(identify, i).result(timeout=60) for i in range(10)]
        assert [r[0] for r in results] == list(range(1, 11))
        assert os.getpid() not in {pid for _, pid in results}  # ran in worker processes
        assert worker_pools(tmp_path)  # a real worker pool is running

        running = engine.submit(identify, 99)
        assert not running.cancel()  # the engine owns it: cancelling would rerun it
        assert running.result(timeout=60)[0] == 100

        shell = engine.submit(ShellFunction("echo out-{n}; echo err >&2"), n=7).result(timeout=60)
        assert shell.returncode == 0 and shell.stdout.strip() == "out-7"

        with pytest.raises(TaskExecutionFailed, match="ValueError: remote failure 42"):
            engine.submit(explode).result(timeout=60)
    assert not worker_pools(tmp_path), "worker pool outlived the engine"


@pytest.mark.mpi
def test_mpi_hello_on_the_local_engine(tmp_path: Path) -> None:
    hello = compile_mpi_hello(tmp_path)
    with EmbeddedEngine(load_site("localhost"), {"mpi": True}, run_dir=tmp_path / "run") as engine:
        spec = {"num_nodes": 1, "ranks_per_node": 2}
        result = engine.submit(MPIFunction(str(hello)), resource_specification=spec).result(60)
    assert result.returncode == 0, result.stderr
    lines = sorted(result.stdout.strip().splitlines())
    assert [line.split(" on ")[0] for line in lines] == ["rank 0 of 2", "rank 1 of 2"]


def test_options_are_validated_before_anything_starts() -> None:
    with pytest.raises(ConfigError, match="unknown option 'partition'"):
        EmbeddedEngine(load_site("localhost"), {"partition": "debug"})
