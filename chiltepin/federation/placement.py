"""Choosing a site for each attempt.

Candidates are the healthy sites that carry every tag the task asks for and that this
task has not already failed on (when others remain). Among them a policy picks:

- ``round_robin``: each in turn;
- ``capacity``: shares proportional to declared capacity (smooth weighted round robin,
  so even short runs get the proportions right, not just long ones);
- ``least_loaded``: fewest outstanding tasks per unit of capacity.

A task pinned to a site goes there and nowhere else, and a task asking a walltime only to
sites whose limits allow it. These three are fixed splits: each task is handed to its site
the moment it is submitted. The default, ``soonest``, holds tasks until a site can start
them instead (:mod:`chiltepin.federation.binding`); it uses the same candidates.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from chiltepin.client.config import Policy
from chiltepin.client.resources import Resources
from chiltepin.errors import ChiltepinError, did_you_mean
from chiltepin.federation.backends.base import Backend
from chiltepin.sites.model import walltime_seconds

if TYPE_CHECKING:
    from chiltepin.federation.tasks import LogicalTask


class NoSiteAvailable(ChiltepinError):
    """No healthy site can take a task right now."""


def max_walltime(backend: Backend) -> str:
    return backend.resolved.site.limits.max_walltime


def not_yet_failed(pool: list[Backend], excluded: set[str] | frozenset[str]) -> list[Backend]:
    """The sites of ``pool`` a task has not failed on, or all of them if it failed on each."""
    fresh = [b for b in pool if b.name not in excluded]
    return fresh or pool


def walltime_fits(backend: Backend, walltime: str | None) -> bool:
    """Whether a task asking ``walltime`` may run on ``backend`` (its site's limits)."""
    return walltime is None or walltime_seconds(walltime) <= walltime_seconds(max_walltime(backend))


class Placement:
    def __init__(self, backends: Sequence[Backend], policy: Policy) -> None:
        self.backends = {b.name: b for b in backends}
        self.policy = policy
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._credit = {name: 0.0 for name in self.backends}

    def check_request(
        self,
        site: str | None,
        tags: frozenset[str],
        resources: Resources | None = None,
        allowed: Sequence[str] | None = None,
    ) -> None:
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
        walltime = resources.walltime if resources is not None else None
        if walltime is None:
            return
        pool = self.matching(tags, site, allowed, None)
        if not any(walltime_fits(b, walltime) for b in pool):
            limits = ", ".join(f"{b.name} allows at most {max_walltime(b)}" for b in pool)
            raise ChiltepinError(
                f"walltime {walltime} fits no site the task may use ({limits});"
                " ask for less, or add a site whose limits.max_walltime allows it"
            )

    def matching(
        self,
        tags: frozenset[str],
        pinned: str | None,
        allowed: Sequence[str] | None,
        walltime: str | None,
    ) -> list[Backend]:
        """The sites a task may ever use, healthy or not: its pinned site, or those with
        its tags among the ``allowed``; either way only where its walltime fits."""
        pool = (
            [self.backends[pinned]]
            if pinned is not None
            else [
                b
                for b in self.backends.values()
                if tags <= b.tags and (allowed is None or b.name in allowed)
            ]
        )
        return [b for b in pool if walltime_fits(b, walltime)]

    def candidates(
        self,
        tags: frozenset[str],
        excluded: set[str],
        allowed: Sequence[str] | None = None,
        walltime: str | None = None,
    ) -> list[Backend]:
        pool = [b for b in self.matching(tags, None, allowed, walltime) if b.healthy]
        return not_yet_failed(pool, excluded)

    def choose(
        self,
        tags: frozenset[str],
        *,
        pinned: str | None = None,
        excluded: set[str] | None = None,
        allowed: Sequence[str] | None = None,
        policy: Policy | None = None,
        walltime: str | None = None,
    ) -> Backend:
        pool = self.available(
            tags, pinned=pinned, excluded=excluded, allowed=allowed, walltime=walltime
        )
        if pinned is not None:
            return pool[0]
        with self._lock:
            return self._pick(pool, policy or self.policy)

    def choose_for(self, task: LogicalTask, policy: Policy) -> Backend:
        """The site ``policy`` gives ``task`` now, among those it may use."""
        return self.choose(
            task.tags,
            pinned=task.pinned_site,
            excluded=task.excluded_sites,
            allowed=task.allowed,
            policy=policy,
            walltime=task.resources.walltime,
        )

    def available_for(self, task: LogicalTask, *, leaving: str | None = None) -> list[Backend]:
        """The healthy sites ``task`` may go to now, ``leaving`` (a site it is moving
        off) aside; :class:`NoSiteAvailable` if none."""
        excluded = task.excluded_sites
        return self.available(
            task.tags,
            pinned=task.pinned_site,
            excluded=excluded if leaving is None else excluded | {leaving},
            allowed=task.allowed,
            walltime=task.resources.walltime,
        )

    def available(
        self,
        tags: frozenset[str],
        *,
        pinned: str | None = None,
        excluded: set[str] | None = None,
        allowed: Sequence[str] | None = None,
        walltime: str | None = None,
    ) -> list[Backend]:
        """The healthy sites a task may go to now; :class:`NoSiteAvailable` if none."""
        if pinned is not None:  # its walltime was checked against it at submit
            backend = self.backends[pinned]
            if not backend.healthy:
                raise NoSiteAvailable(f"site {pinned!r} is unavailable: {backend.unhealthy_reason}")
            return [backend]
        pool = self.candidates(tags, excluded or set(), allowed, walltime)
        if not pool:
            reasons = "; ".join(
                f"{b.name}: {b.unhealthy_reason}" for b in self.backends.values() if not b.healthy
            )
            raise NoSiteAvailable(f"no healthy site can take the task ({reasons or 'no match'})")
        return pool

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
