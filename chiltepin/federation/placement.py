"""Choosing a site for each attempt.

Candidates are the healthy sites that carry every tag the task asks for and that this
task has not already failed on (when others remain). Among them a policy picks:

- ``round_robin``: each in turn;
- ``capacity``: shares proportional to declared capacity (smooth weighted round robin,
  so even short runs get the proportions right, not just long ones);
- ``least_loaded``: fewest outstanding tasks per unit of capacity.

A task pinned to a site goes there and nowhere else.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence

from chiltepin.client.config import Policy
from chiltepin.errors import ChiltepinError, did_you_mean
from chiltepin.federation.backends.base import Backend


class NoSiteAvailable(ChiltepinError):
    """No healthy site can take a task right now."""


class Placement:
    def __init__(self, backends: Sequence[Backend], policy: Policy) -> None:
        self.backends = {b.name: b for b in backends}
        self.policy = policy
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._credit = {name: 0.0 for name in self.backends}

    def check_request(self, site: str | None, tags: frozenset[str]) -> None:
        """Refuse, before anything is submitted, what no site could ever satisfy."""
        if site is not None and site not in self.backends:
            raise ChiltepinError(
                f"unknown site {site!r}{did_you_mean(site, self.backends)};"
                f" sites: {', '.join(sorted(self.backends))}"
            )
        if tags and not any(tags <= b.tags for b in self.backends.values()):
            offered = sorted(set().union(*(b.tags for b in self.backends.values())))
            raise ChiltepinError(
                f"no site has tag(s) {', '.join(sorted(tags))}; tags offered: {', '.join(offered)}"
            )

    def candidates(
        self, tags: frozenset[str], excluded: set[str], allowed: Sequence[str] | None = None
    ) -> list[Backend]:
        pool = [
            b
            for b in self.backends.values()
            if b.healthy and tags <= b.tags and (allowed is None or b.name in allowed)
        ]
        fresh = [b for b in pool if b.name not in excluded]
        return fresh or pool

    def choose(
        self,
        tags: frozenset[str],
        *,
        pinned: str | None = None,
        excluded: set[str] | None = None,
        allowed: Sequence[str] | None = None,
        policy: Policy | None = None,
    ) -> Backend:
        if pinned is not None:
            backend = self.backends[pinned]
            if not backend.healthy:
                raise NoSiteAvailable(f"site {pinned!r} is unavailable: {backend.unhealthy_reason}")
            return backend
        pool = self.candidates(tags, excluded or set(), allowed)
        if not pool:
            reasons = "; ".join(
                f"{b.name}: {b.unhealthy_reason}" for b in self.backends.values() if not b.healthy
            )
            raise NoSiteAvailable(f"no healthy site can take the task ({reasons or 'no match'})")
        with self._lock:
            return self._pick(pool, policy or self.policy)

    def _pick(self, pool: list[Backend], policy: Policy) -> Backend:
        if policy is Policy.round_robin:
            return pool[next(self._turn) % len(pool)]
        if policy is Policy.least_loaded:
            return min(pool, key=lambda b: (b.outstanding / b.capacity, -b.capacity))
        total = sum(b.capacity for b in pool)
        for b in pool:
            self._credit[b.name] += b.capacity
        chosen = max(pool, key=lambda b: self._credit[b.name])
        self._credit[chosen.name] -= total
        return chosen
