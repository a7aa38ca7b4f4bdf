"""What the federation has learned about each site, from the tasks it ran there.

Late binding places a task where it is expected to *finish* first, so it needs, per site:

- how long a task runs there (the probe's start/end on the worker: a site three times
  slower gets a third of the throughput, whatever its declared capacity says);
- how long the site takes to start work once it is asked (from the moment the site was
  handed work while idle to the first task starting there: a batch queue's wait);
- how often its attempts fail for the site's own reasons;
- how many tasks it ran at once, for a site whose status does not say how many workers
  it has (a template-capable endpoint's parent reports none of its children's);
- how long a task takes to reach a worker and its result to come back (the round trip a
  window must cover: tasks shorter than it need more than a small prefetch to keep the
  workers busy). The way back is a task's end on its worker to its result here. The way
  out (the client's batching, the service's request limit, the broker, the engine's
  dispatch) is a task's release to its start, sampled only from tasks released while a
  worker was free for them: in any other the wait for a busy worker would count too, and
  that wait grows with the window itself. Each leg spans the worker's clock and the
  client's, so a skew between them cancels in the sum.

Each is a running estimate (exponentially weighted, so a site that changes is followed);
nothing is assumed before the first sample.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WEIGHT = 0.2  # how much each new sample moves a running estimate
OVERLAP_WINDOW = 64  # recent intervals whose overlap gives a site's observed concurrency
MAX_PIPELINE = 10_000  # the most tasks a window keeps in transit per site


def _blend(old: float | None, sample: float) -> float:
    return sample if old is None else (1 - WEIGHT) * old + WEIGHT * sample


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of ``(start, end)`` intervals that overlap at one instant."""
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        running += step
        peak = max(peak, running)
    return peak


def most_at_once_during(start: float, end: float, others: list[tuple[float, float]]) -> int:
    """The largest number of ``others`` and ``(start, end)`` itself that overlap at an
    instant of ``(start, end)``: :func:`most_at_once` of them all, at those instants only
    (the others clipped to it), so what does not touch the new interval is not sorted.
    ``end > start``; the others may not be inverted."""
    clipped = [(max(s, start), min(e, end)) for s, e in others if s < end and e > start]
    return 1 + most_at_once(clipped)


@dataclass
class SiteEstimate:
    """One site's running estimates (``None``: no sample yet)."""

    site: str
    run_s: float | None = None
    queue_wait_s: float | None = None
    failure_rate: float = 0.0
    concurrency: int = 0
    finished: int = 0
    failures: int = 0
    return_s: float | None = None  # from a task's end on its worker to its result here
    out_s: float | None = None  # from a task's release to its start, no busy worker ahead
    _asked_at: float | None = None  # wall clock when idle work was handed to the site
    _recent: deque[tuple[float, float]] = field(
        default_factory=lambda: deque(maxlen=OVERLAP_WINDOW)
    )

    @property
    def round_trip_s(self) -> float | None:
        """Both legs; until the way out is sampled, taken to cost what the way back does."""
        if self.return_s is None:
            return None
        return self.return_s + (self.return_s if self.out_s is None else self.out_s)

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "run_s": self.run_s,
            "queue_wait_s": self.queue_wait_s,
            "failure_rate": round(self.failure_rate, 4),
            "concurrency": self.concurrency,
            "round_trip_s": self.round_trip_s,
            "finished": self.finished,
            "failures": self.failures,
        }


class Estimates:
    """Thread-safe per-site estimates, updated as attempts are handed out and finish.

    ``clock``: the wall clock (``time.time``) a result's arrival and a site's asking are
    read from, the same clock the workers stamp a task's start and end with.
    """

    def __init__(self, sites: list[str], *, clock: Callable[[], float] = time.time) -> None:
        self._sites = {name: SiteEstimate(name) for name in sites}
        self._lock = threading.Lock()
        self._clock = clock

    def __getitem__(self, site: str) -> SiteEstimate:
        return self._sites[site]

    def asked(self, site: str, was_idle: bool) -> None:
        """Work was handed to ``site``; if it had none, the queue-wait clock starts."""
        with self._lock:
            estimate = self._sites[site]
            if was_idle and estimate._asked_at is None:
                estimate._asked_at = self._clock()

    def ran(self, site: str, start: float, end: float, *, released: float | None = None) -> None:
        """A task ran on ``site`` from ``start`` to ``end`` (the worker's clock); its
        result is here now. ``released``: when it was released to a free worker there."""
        with self._lock:
            estimate = self._sites[site]
            estimate.return_s = _blend(estimate.return_s, max(0.0, self._clock() - end))
            if released is not None:
                estimate.out_s = _blend(estimate.out_s, max(0.0, start - released))
            estimate.run_s = _blend(estimate.run_s, max(0.0, end - start))
            if estimate._asked_at is not None:
                wait = max(0.0, start - estimate._asked_at)
                estimate.queue_wait_s = _blend(estimate.queue_wait_s, wait)
                estimate._asked_at = None
            estimate.concurrency = max(estimate.concurrency, _concurrency(estimate, start, end))
            estimate.finished += 1
            estimate.failure_rate = _blend(estimate.failure_rate, 0.0)

    def failed(self, site: str) -> None:
        """An attempt on ``site`` failed for the site's own reasons."""
        with self._lock:
            estimate = self._sites[site]
            estimate.failures += 1
            estimate.failure_rate = _blend(estimate.failure_rate, 1.0)

    def in_transit(self, site: str, workers: int, held_s: float = 0.0) -> int:
        """Tasks a window must hold beyond ``workers`` to keep them busy across the round
        trip and the ``held_s`` a released task may wait on the client for its site's next
        request (0 until the site has returned results)."""
        with self._lock:
            estimate = self._sites[site]
            trip, run = estimate.round_trip_s, estimate.run_s
        if trip is None or run is None:
            return 0
        return min(MAX_PIPELINE, math.ceil(workers * (trip + held_s) / max(run, 1e-4)))

    def waiting_since(self, site: str) -> float | None:
        """Since when (wall clock) ``site`` has had work and started none of it, if so."""
        with self._lock:
            return self._sites[site]._asked_at

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e.as_dict() for e in self._sites.values()]

    def typical_run_s(self) -> float | None:
        """The mean run time over the sites that have one: the guess for a site with none."""
        with self._lock:
            known = [e.run_s for e in self._sites.values() if e.run_s is not None]
        return sum(known) / len(known) if known else None


def _concurrency(estimate: SiteEstimate, start: float, end: float) -> int:
    """The most of ``estimate``'s recent intervals that overlap at once, after adding
    ``(start, end)`` to them, as far as it may exceed ``estimate.concurrency``.

    ``concurrency`` already covers every instant outside the new interval (each earlier
    window was counted whole, and this one holds a subset of the last one's intervals
    there), so only the instants of the new interval are counted: per result, a pass over
    the window instead of a sort of it. An inverted interval (a worker's clock stepped
    back) lowers the count where it lies, and dropping it out of the window raises it
    again; while one is in the window, the window is counted whole, as before.
    """
    recent = estimate._recent
    recent.append((start, end))
    if any(e < s for s, e in recent):
        return most_at_once(list(recent))
    others = list(recent)[:-1]
    return most_at_once_during(start, end, others) if end > start else 0
