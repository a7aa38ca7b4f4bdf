"""Contract: an endpoint engine driven as the interchange drives it, the PIDs Parsl
starts for it, and the log level of the processes it starts."""

from __future__ import annotations

import logging
import pickle
import uuid
from pathlib import Path
from typing import Any

import psutil
from globus_compute_common import messagepack
from globus_compute_common.messagepack.message_types import Result, Task
from globus_compute_endpoint.engines import GlobusComputeEngine
from globus_compute_endpoint.engines.thread_pool import ThreadPoolEngine
from globus_compute_sdk.serialize import ComputeSerializer
from parsl.executors import HighThroughputExecutor

from chiltepin.embedded import EmbeddedEngine
from chiltepin.sites.loader import load_site
from chiltepin.upstream.engine import (
    EngineFuture,
    engine_log_config,
    engine_process_ids,
    log_config_text,
    log_warnings_only,
    provider_jobs,
    submit_packed,
    worker_launch_cmd,
)
from tests.upstream.contract import contract

ENDPOINT = "globus-compute-endpoint"


class RecordingFuture(EngineFuture):
    """Records what the engine settles it with, as the embedded engine's future does."""

    def __init__(self) -> None:
        super().__init__(gc_task_id=uuid.uuid4())
        self.settled_with: list[Any] = []

    def set_result(self, result: Any) -> None:
        self.settled_with.append(result)
        super().set_result(result)


def test_an_engine_settles_the_future_with_the_packed_result(tmp_path: Path) -> None:
    serializer = ComputeSerializer()
    buffer = serializer.pack_buffers([serializer.serialize(x) for x in (pow, (2, 10), {})])
    engine = ThreadPoolEngine(max_workers=1)
    with contract(
        "engines.base.GCFuture / GlobusComputeEngineBase.submit",
        ENDPOINT,
        "take a GCFuture and a packed Task and set_result the packed Result",
    ):
        engine.start(endpoint_id=uuid.uuid4(), run_dir=str(tmp_path))
        try:
            future = RecordingFuture()
            task = messagepack.pack(Task(task_id=future.gc_task_id, task_buffer=buffer))
            submit_packed(engine, future, task, {})
            packed = future.result(timeout=60)
        finally:
            engine.shutdown()
        assert future.settled_with == [packed]
        result = messagepack.unpack(packed)
        assert isinstance(result, Result) and not result.is_error
        assert serializer.deserialize(result.data) == 1024


def test_htex_names_its_interchange_process() -> None:
    with contract("HighThroughputExecutor.interchange_proc", "parsl", "is set up in __init__"):
        assert HighThroughputExecutor().interchange_proc is None


def test_the_pids_recorded_are_the_interchange_and_the_local_blocks(tmp_path: Path) -> None:
    with EmbeddedEngine(load_site("localhost"), run_dir=tmp_path) as embedded:
        assert embedded.submit(pow, 2, 3).result(timeout=120) == 8  # a block is up now
        with contract(
            "HTEX.interchange_proc, LocalProvider.resources[...]['remote_pid']",
            "parsl",
            "hold the PIDs Parsl started",
        ):
            jobs = provider_jobs(embedded.engine)
            assert jobs, "the local provider lists no job although a block ran a task"
            interchange, *blocks = engine_process_ids(embedded.engine, jobs)
            assert "interchange" in " ".join(psutil.Process(interchange).cmdline())
            assert len(blocks) == len(jobs)
            assert all(psutil.Process(pid).is_running() for pid in blocks)


def test_an_engines_executor_carries_a_log_config_to_its_processes() -> None:
    with contract(
        "ParslExecutor.log_config, HTEX launch_cmd --logconf",
        "parsl",
        "is the LogConfig HTEX pickles for its interchange, managers and workers",
    ):
        assert HighThroughputExecutor().log_config is None
        assert "--logconf={logconf}" in HighThroughputExecutor().launch_cmd
    engine = GlobusComputeEngine(address="127.0.0.1")
    log_warnings_only(engine)
    config = engine.executor.log_config
    with contract("parsl.logconfigs.file.FileLogging", "parsl", "keeps the level it is given"):
        assert config.level == logging.WARNING


def test_a_worker_launch_command_names_a_log_config_file(tmp_path: Path) -> None:
    path = str(tmp_path / "worker_log_config.pkl")
    command = worker_launch_cmd(path)
    with contract(
        "parsl.executors.high_throughput.executor.DEFAULT_LAUNCH_CMD",
        "parsl",
        "is HTEX's worker launch command, with --logconf={logconf}",
    ):
        assert command.replace(path, "{logconf}") == HighThroughputExecutor().launch_cmd
    engine = GlobusComputeEngine(address="127.0.0.1", launch_cmd=command)
    with contract(
        "GlobusComputeEngine(launch_cmd=...)",
        ENDPOINT,
        "passes launch_cmd to HTEX and runs its worker pool through python-exec",
    ):
        launched = engine.executor.launch_cmd
        assert launched.startswith("globus-compute-endpoint python-exec parsl.")
        assert f"--logconf={path} " in launched
    engine.shutdown()


def test_the_log_config_file_is_parsls_warnings_only_file_logging(tmp_path: Path) -> None:
    with contract(
        "parsl.logconfigs.file.FileLogging",
        "parsl",
        "unpickles from protocol 0 and logs at the level it was given",
    ):
        config = pickle.loads(log_config_text().encode("ascii"))
        assert type(config) is type(engine_log_config())
        levels = {name: logging.getLogger(name).level for name in ("parsl", "concurrent.futures")}
        uninitialize = config.initialize_logging(log_dir=tmp_path, log_name="worker_0")
        try:
            logging.getLogger("parsl.x").info("Received executor task 1")
            logging.getLogger("parsl.x").warning("a worker warning")
        finally:
            uninitialize()
            for name, level in levels.items():  # it sets them, as in a worker
                logging.getLogger(name).setLevel(level)
    logged = (tmp_path / "worker_0.log").read_text()
    assert "a worker warning" in logged and "Received executor task" not in logged
