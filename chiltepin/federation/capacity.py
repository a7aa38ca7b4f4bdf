"""How many workers a site has right now (and how busy), read from what the site itself
reports.

A declared capacity says what a site *could* hold; late binding needs what it holds now:
a batch queue may not have started a single node yet. Each backend reads it its own way:

- a local site asks its embedded engines' interchanges for their connected managers
  (the same list a user endpoint puts into its status report);
- an endpoint site reads the status the service relays from the endpoint
  (``total_workers`` and friends in ``get_endpoint_status``'s details).

A template-capable endpoint's parent reports none of its children's workers, and the
service is not documented to add them up; then the count is unknown (``None``) and the
federation falls back on what it learned from the tasks themselves
(:mod:`chiltepin.federation.estimates`).

Idle workers and batch blocks are for people watching the run (its live status), not for
placement. Idle is counted as the endpoint counts it for its own status report
(``GlobusComputeEngine.get_total_idle_workers``: a manager's workers less its tasks),
over the managers that accept tasks, so idle never exceeds the live workers. Blocks come
from Parsl's block states (``status_facade``), which only a local site can read: an
endpoint's documented status carries no blocks, so an endpoint site's are unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from parsl.jobs.states import JobState


class Blocks(NamedTuple):
    """A site's batch blocks: jobs started and jobs still in the queue."""

    running: int
    pending: int


def workers_of_managers(managers: Iterable[dict[str, Any]]) -> int:
    """Workers of the managers that accept tasks (a manager draining for its block's
    walltime still reports its workers, but takes nothing new)."""
    return sum(int(m.get("worker_count", 0)) for m in managers if m.get("active", True))


def idle_of_managers(managers: Iterable[dict[str, Any]]) -> int:
    """Workers running no task, of the managers that accept tasks."""
    return sum(
        max(0, int(m.get("worker_count", 0)) - int(m.get("tasks", 0)))
        for m in managers
        if m.get("active", True)
    )


def blocks_of_states(states: Iterable[JobState]) -> Blocks:
    """Blocks running and pending among Parsl block states (ended ones count in neither)."""
    seen = list(states)
    return Blocks(seen.count(JobState.RUNNING), seen.count(JobState.PENDING))


def workers_of_status(details: dict[str, Any]) -> int | None:
    """Live workers from an endpoint status's details, or ``None`` when it does not say."""
    return _count(details, "total_workers")


def idle_of_status(details: dict[str, Any]) -> int | None:
    """Idle workers from an endpoint status's details, or ``None`` when it does not say."""
    return _count(details, "idle_workers")


def _count(details: dict[str, Any], key: str) -> int | None:
    value = details.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return max(0, value)
