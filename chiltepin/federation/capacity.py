"""How many workers a site has right now, read from what the site itself reports.

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
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def workers_of_managers(managers: Iterable[dict[str, Any]]) -> int:
    """Workers of the managers that accept tasks (a manager draining for its block's
    walltime still reports its workers, but takes nothing new)."""
    return sum(int(m.get("worker_count", 0)) for m in managers if m.get("active", True))


def workers_of_status(details: dict[str, Any]) -> int | None:
    """Live workers from an endpoint status's details, or ``None`` when it does not say."""
    total = details.get("total_workers")
    if isinstance(total, bool) or not isinstance(total, int):
        return None
    return max(0, total)
