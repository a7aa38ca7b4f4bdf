"""``globus_compute_endpoint`` engine and Parsl executor/provider internals.

The embedded engine drives an endpoint engine the way the endpoint's interchange does:
it hands ``engine.submit`` a ``GCFuture`` and a packed task, and the engine settles the
future with the packed result. To stop what a killed client's engine left running, it
also needs the PIDs Parsl started: the HTEX interchange (``interchange_proc``) and the
local blocks (the provider's ``resources`` table, ``remote_pid``). Neither has a public
accessor.
"""

from __future__ import annotations

from typing import Any

from globus_compute_endpoint.engines.base import GCFuture, GlobusComputeEngineBase

__all__ = [
    "EngineFuture",
    "GlobusComputeEngineBase",
    "engine_process_ids",
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
