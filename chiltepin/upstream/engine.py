"""``globus_compute_endpoint`` engine and Parsl executor/provider internals.

The embedded engine drives an endpoint engine the way the endpoint's interchange does:
it hands ``engine.submit`` a ``GCFuture`` and a packed task, and the engine settles the
future with the packed result. To stop what a killed client's engine left running, it
also needs the PIDs Parsl started: the HTEX interchange (``interchange_proc``) and the
local blocks (the provider's ``resources`` table, ``remote_pid``). Neither has a public
accessor. And to keep its logs from growing with every task, it sets the executor's
``log_config`` before start, as a Parsl DataFlowKernel would (an engine has none).

An endpoint builds its engine itself from YAML, which cannot set ``log_config``; its
workers get the same log config as a pickled file named in Parsl's own worker launch
command (``--logconf``, the file HTEX writes for a ``log_config`` of its own).
"""

from __future__ import annotations

import logging
import pickle
from typing import Any

from globus_compute_endpoint.engines.base import GCFuture, GlobusComputeEngineBase
from parsl.executors.high_throughput.executor import DEFAULT_LAUNCH_CMD
from parsl.logconfigs.base import LogConfig
from parsl.logconfigs.file import FileLogging

__all__ = [
    "EngineFuture",
    "GlobusComputeEngineBase",
    "engine_log_config",
    "engine_process_ids",
    "log_config_text",
    "log_warnings_only",
    "provider_jobs",
    "submit_packed",
    "worker_launch_cmd",
]

#: The future an engine settles with a task's packed ``Result`` (via ``set_result``).
EngineFuture = GCFuture


def submit_packed(
    engine: GlobusComputeEngineBase,
    future: GCFuture,
    packed_task: bytes,
    resource_specification: dict[str, Any],
) -> None:
    """Run one packed task on ``engine``, as the endpoint's interchange does."""
    engine.submit(future, packed_task, resource_specification)


def provider_jobs(engine: GlobusComputeEngineBase) -> dict[Any, dict[str, Any]]:
    """A snapshot of the engine's provider's job table (job id -> record); empty for a
    provider that keeps none."""
    return dict(getattr(engine.executor.provider, "resources", {}))


def engine_process_ids(
    engine: GlobusComputeEngineBase, jobs: dict[Any, dict[str, Any]]
) -> list[int]:
    """PIDs the engine started on this host: its interchange and the local blocks of
    ``jobs`` (a :func:`provider_jobs` snapshot)."""
    executor = engine.executor
    pids = [executor.interchange_proc.pid] if executor.interchange_proc else []
    return pids + [job["remote_pid"] for job in jobs.values() if job.get("remote_pid")]


def engine_log_config(debug: bool = False) -> LogConfig:
    """Parsl's log config for the engines chiltepin starts: warnings and errors only, or
    with ``debug`` everything (DEBUG, every task included).

    At Parsl's default level (INFO) every HTEX worker writes three lines for each task it
    runs, which was two thirds of a long run's directory (~565 B a task, against the
    journal's ~258). Parsl's one supported knob for those processes' level is a
    ``LogConfig`` (what ``Config(initialize_logging=...)`` gives a DataFlowKernel's
    executors). Parsl's own ``FileLogging`` is used, not a class of ours: it unpickles
    wherever the workers run, chiltepin installed there or not.
    """
    return FileLogging(level=logging.DEBUG if debug else logging.WARNING)


def log_warnings_only(engine: GlobusComputeEngineBase) -> None:
    """Make the engine's interchange, managers and workers log warnings and errors only.

    An engine has no DataFlowKernel to hand its executor a log config, so it is set on the
    executor here, before start; HTEX hands it to the interchange and pickles it for every
    manager and worker.
    """
    engine.executor.log_config = engine_log_config()


def log_config_text() -> str:
    """:func:`engine_log_config` (warnings only) as the file a worker pool reads with
    ``--logconf``: a pickle in protocol 0, Python's ASCII one, so it is written like the
    endpoint's other files."""
    return pickle.dumps(engine_log_config(), protocol=0).decode("ascii")


def worker_launch_cmd(log_config_path: str) -> str:
    """Parsl's own worker launch command, with the workers' log config read from
    ``log_config_path`` (a :func:`log_config_text` file) instead of one HTEX writes.

    Every other field is left for HTEX to fill in, and the endpoint engine still turns
    ``process_worker_pool.py`` into its own ``python-exec`` form. The path is inserted as
    is: a caller passes one that needs no shell quoting and has no braces.
    """
    return DEFAULT_LAUNCH_CMD.replace("--logconf={logconf}", f"--logconf={log_config_path}")
