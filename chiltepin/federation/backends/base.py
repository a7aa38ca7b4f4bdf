"""What every site backend offers the federation, and the bookkeeping they share."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from chiltepin.client.config import ResolvedSite
from chiltepin.client.resources import Resources, Routing, route
from chiltepin.federation.capacity import Blocks
from chiltepin.federation.tasks import Attempt

SUBMISSION_FAILURES_TO_QUARANTINE = 3
QUARANTINE_S = 30.0

Completion = Callable[[Attempt, Future[Any]], None]
"""Called once per attempt with a future holding its value or its error."""


@dataclass(frozen=True, slots=True)
class SiteHealth:
    """A site's health as it changed: whether placement may use it, why not, and its
    named state where the site has them (an endpoint's ``EndpointState`` value)."""

    site: str
    healthy: bool
    reason: str | None
    state: str | None


def failed(error: BaseException) -> Future[Any]:
    """A future that already holds ``error``: how a backend reports an attempt it could
    not even hand to its site."""
    future: Future[Any] = Future()
    future.set_exception(error)
    return future


class Backend(ABC):
    """A site as the federation drives it: submit attempts, report health, shut down."""

    def __init__(self, resolved: ResolvedSite) -> None:
        self.resolved = resolved
        self.name = resolved.name
        self.capacity = resolved.capacity
        self.tags = resolved.tags
        self._in_flight: dict[int, tuple[Attempt, Callable[[Future[Any]], None]]] = {}
        self._lock = threading.Lock()
        self._unhealthy_reason: str | None = None
        self._unhealthy_until: float | None = None
        self._submission_failures = 0
        self.late_results = 0
        self._routings: dict[Resources, Routing] = {}
        # Workers the site says it has now (None: it does not say); see federation.capacity.
        self.live_workers: int | None = None
        # What else the site says of itself, for its live status only (placement reads
        # neither): workers running no task, and its batch blocks (None: it does not say).
        self.idle_workers: int | None = None
        self.blocks: Blocks | None = None
        self.accepting = True  # False while the site says it cannot start work (offline)
        # Why this client's functions cannot run there (federation.preflight); unlike an
        # unhealthy spell it lasts the run: coming back online does not change versions.
        self.version_mismatch: str | None = None
        self.versions: dict[str, Any] = {}  # what the pre-flight learned, for the report
        self.on_capacity: Callable[[], None] = lambda: None  # the count changed
        # The site stopped holding these attempts: the federation places them again while
        # they stay live, in case the site comes back with them and answers first; it
        # returns how many it moved (those it moved before are not moved twice).
        self.on_stopped: Callable[[list[Attempt]], int] = lambda attempts: 0
        # Every change of the site's health or named state, for the journal and alerts.
        self.on_health: Callable[[SiteHealth], None] = lambda health: None
        # The longest a released attempt may wait on the client for its site's next
        # request (client.limits.submit_pace_s): a window must cover it as well.
        self.pace_s = 0.0

    def set_live_workers(self, workers: int | None) -> None:
        """What the site says it has now (its status, or its engines' managers)."""
        if workers != self.live_workers:
            self.live_workers = workers
            self.on_capacity()

    def routing(self, resources: Resources) -> Routing:
        """Where tasks asking ``resources`` go on this site. Computed once per distinct
        request and shared: a fanout's tasks all ask the same, and each would otherwise
        carry its own copy of the options (and their JSON key) until it settles."""
        routing = self._routings.get(resources)
        if routing is None:
            routing = route(resources, self.resolved.site, self.resolved.entry.options)
            routing = self._routings.setdefault(resources, routing)
        return routing

    @property
    def outstanding(self) -> int:
        return len(self._in_flight)

    def in_flight(self) -> list[Attempt]:
        with self._lock:
            return [attempt for attempt, _ in self._in_flight.values()]

    def held(self, attempts: list[Attempt]) -> list[Attempt]:
        """Those of ``attempts`` still in flight here."""
        with self._lock:
            return [a for a in attempts if id(a) in self._in_flight]

    def newly_identified(self) -> list[Attempt]:
        """In-flight attempts whose remote task id became known since last asked (now
        set on them): what the journal needs for a killed client to reattach. Sites
        whose tasks have no remote id (embedded engines die with their client) have none."""
        return []

    @property
    def healthy(self) -> bool:
        """False while the site is known bad (a cool-down, when set, lets it be tried
        again), or for the whole run when its workers cannot read this client's functions."""
        if self._unhealthy_until is not None and time.monotonic() >= self._unhealthy_until:
            self.mark_healthy()
        return self._unhealthy_reason is None and self.version_mismatch is None

    @property
    def unhealthy_reason(self) -> str | None:
        return self.version_mismatch or self._unhealthy_reason

    @property
    def state_name(self) -> str | None:
        """The site's named state (sites that have none: None)."""
        return None

    def report_health(self) -> None:
        """Tell the federation (:attr:`on_health`) where the site stands now."""
        healthy = self._unhealthy_reason is None and self.version_mismatch is None
        self.on_health(SiteHealth(self.name, healthy, self.unhealthy_reason, self.state_name))

    def mark_unhealthy(self, reason: str, *, cool_down_s: float | None = None) -> None:
        changed = reason != self._unhealthy_reason
        self._unhealthy_reason = reason
        self._unhealthy_until = None if cool_down_s is None else time.monotonic() + cool_down_s
        if changed:
            self.report_health()

    def mark_healthy(self) -> None:
        was_out = self._unhealthy_reason is not None
        self._unhealthy_reason = None
        self._unhealthy_until = None
        self._submission_failures = 0
        if was_out:
            self.report_health()

    def record_submission_ok(self) -> None:
        self._submission_failures = 0

    def record_submission_failure(self, error: BaseException) -> None:
        """Consecutive refused submissions take the site out of placement for a while."""
        self._submission_failures += 1
        if self._submission_failures >= SUBMISSION_FAILURES_TO_QUARANTINE and self.healthy:
            self.mark_unhealthy(
                f"{self._submission_failures} submissions failed, last: {error}",
                cool_down_s=QUARANTINE_S,
            )

    def submit(self, attempt: Attempt, on_done: Completion) -> None:
        """Send ``attempt`` to the site; ``on_done`` fires exactly once for it."""
        self._submit(attempt, self._register(attempt, on_done))

    def track(self, attempt: Attempt, on_done: Completion, future: Future[Any]) -> None:
        """Follow an attempt submitted earlier (by a client that has since died)."""
        attempt.handle = future
        future.add_done_callback(self._register(attempt, on_done))

    def _register(self, attempt: Attempt, on_done: Completion) -> Callable[[Future[Any]], None]:
        """Record ``attempt`` as in flight; return the callback that reports it, once.

        An attempt can finish twice: given up on (:meth:`fail_in_flight`) and later
        answered by the site after all. The second report is counted as a late result
        and goes no further.
        """

        def finished(future: Future[Any]) -> None:
            with self._lock:
                self._in_flight.pop(id(attempt), None)
                late, attempt.reported = attempt.reported, True
                self.late_results += late and not future.cancelled()
            if not late:
                on_done(attempt, future)

        with self._lock:
            self._in_flight[id(attempt)] = (attempt, finished)
        return finished

    def fail_in_flight(self, error: BaseException) -> None:
        """End every in-flight attempt with ``error`` (the site is gone) so the federation
        can place them elsewhere; their real results, if any arrive, become late results."""
        self.fail_attempts(self.in_flight(), error)

    def fail_attempts(self, attempts: list[Attempt], error: BaseException) -> int:
        """End those of ``attempts`` still in flight with ``error``; return how many."""
        with self._lock:
            reports = [entry[1] for entry in map(self._in_flight.get, map(id, attempts)) if entry]
        for finished in reports:
            finished(failed(error))
        return len(reports)

    @abstractmethod
    def warm(self) -> None:
        """Start getting ready for this run's first tasks, without waiting and without
        running anything of the user's: what a site needs before it can start work (an
        engine and its first block, or what its status says of its workers) takes longer
        than most first tasks, and sites that do it one after another, on first use,
        make the first minute of a run theirs."""

    @abstractmethod
    def _submit(self, attempt: Attempt, finished: Callable[[Future[Any]], None]) -> None:
        """Submit to the site; call ``finished`` with a completed future, once."""

    @abstractmethod
    def shutdown(self, *, cancel: bool) -> None:
        """Release the site's resources (engines, executors, batch jobs)."""

    def describe(self) -> dict[str, Any]:
        return {
            "site": self.name,
            "kind": self.resolved.kind.value,
            "capacity": self.capacity,
            "versions": self.versions,
            "version_mismatch": self.version_mismatch,
        }
