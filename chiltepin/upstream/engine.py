"""``globus_compute_endpoint`` engine and Parsl executor/provider internals.

The embedded engine drives an endpoint engine the way the endpoint's interchange does:
it hands ``engine.submit`` a ``GCFuture`` and a packed task, and the engine settles the
future with the packed result. To stop what a killed client's engine left running, it
also needs the PIDs Parsl started: the HTEX interchange (``interchange_proc``) and the
local blocks (the provider's ``resources`` table, ``remote_pid``). Neither has a public
accessor. And to keep its logs from growing with every task, it sets the executor's
``log_config`` before start, as a Parsl DataFlowKernel would (an engine has none).
"""

from __future__ import annotations

import logging
from typing import Any

from globus_compute_endpoint.engines.base import GCFuture, GlobusComputeEngineBase
from parsl.logconfigs.file import FileLogging

__all__ = [
    "EngineFuture",
    "GlobusComputeEngineBase",
    "engine_process_ids",
    "log_warnings_only",
    "provider_jobs",
    "submit_packed",
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


def log_warnings_only(engine: GlobusComputeEngineBase) -> None:
    """Make the engine's interchange, managers and workers log warnings and errors only.

    At Parsl's default level (INFO) every HTEX worker writes three lines for each task it
    runs, which was two thirds of a long run's directory (~565 B a task, against the
    journal's ~258). Parsl's one supported knob for those processes' level is a
    ``LogConfig`` (what ``Config(initialize_logging=...)`` gives a DataFlowKernel's
    executors); an engine has no DataFlowKernel, so it is set on the executor here, before
    start, and HTEX hands it to the interchange and pickles it for every manager and
    worker. Parsl's own ``FileLogging`` is used, not a class of ours: it unpickles
    wherever the workers run, chiltepin installed there or not.
    """
    engine.executor.log_config = FileLogging(level=logging.WARNING)
