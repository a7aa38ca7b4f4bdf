"""How a federation's tasks get to sites: the one interface both placement engines share.

Two engines decide where a task goes, and the federation talks to each the same way:

- **late binding** (:class:`~chiltepin.federation.binding.Binder`, the default policy
  ``soonest``) holds every task on the client until a site can start it, and releases it
  to the site expected to finish it first;
- a **fixed split** (:class:`FixedSplit`: ``round_robin``, ``capacity``,
  ``least_loaded``) hands each task to a site the moment it is submitted, by the shares
  :class:`~chiltepin.federation.placement.Placement` keeps.

Both choose among the same candidates (:meth:`Placement.available`), both start an
attempt through the same callback (:data:`Start`), and the federation tells both when an
attempt no longer needs its place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from chiltepin.client.config import Policy

if TYPE_CHECKING:
    from chiltepin.federation.backends.base import Backend
    from chiltepin.federation.placement import Placement
    from chiltepin.federation.tasks import Attempt, LogicalTask

#: Start an attempt of a task on a site: (task, site, race, a worker is free for it there).
Start = Callable[["LogicalTask", "Backend", bool, bool], None]


class Placer(Protocol):
    """What the federation asks of a placement engine."""

    def place(self, task: LogicalTask) -> None:
        """Send ``task`` on its way: start it on a site now, or hold it until one can.

        Raises :class:`~chiltepin.federation.placement.NoSiteAvailable` when no healthy
        site could take it, so the federation ends it through its one door.
        """

    def adopted(self, attempt: Attempt) -> None:
        """An attempt a previous client placed is out at its site (a reattached run)."""

    def finished(self, attempt: Attempt) -> None:
        """``attempt`` no longer needs its place at its site (it ended, or moved)."""

    @property
    def held(self) -> int:
        """Tasks waiting on the client for a site."""

    def close(self, *, cancel: bool) -> None:
        """Place nothing more; with ``cancel``, cancel what is still held."""


class FixedSplit:
    """A task goes to its site the moment it is placed, by ``policy``'s shares: nothing is
    held on the client and no site has a window."""

    def __init__(self, placement: Placement, policy: Policy, start: Start) -> None:
        """``placement`` keeps the shares and the candidates; ``start`` starts the attempt."""
        if policy is Policy.soonest:
            raise ValueError("soonest is late binding, not a fixed split")
        self.policy = policy
        self._placement = placement
        self._start = start

    def place(self, task: LogicalTask) -> None:
        backend = self._placement.choose_for(task, self.policy)
        self._start(task, backend, False, False)

    def adopted(self, attempt: Attempt) -> None:
        """Nothing to count: a fixed split keeps no windows."""

    def finished(self, attempt: Attempt) -> None:
        """Nothing to release: a fixed split holds no tasks."""

    @property
    def held(self) -> int:
        return 0

    def close(self, *, cancel: bool) -> None:
        """Nothing is held, so nothing to cancel."""
