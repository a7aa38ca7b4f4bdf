"""Late binding: tasks wait on the client until a site can start them.

A fixed split hands each task to a site the moment it is submitted, so a slow batch
queue or a stopped endpoint strands its share while other sites idle. Here the
federation holds every task instead, and each site has a *window*: its live workers
(:mod:`chiltepin.federation.capacity`; for a site that does not say, as many as it was
seen running at once) plus a small prefetch (more where tasks are shorter than the round
trip to the site's workers and the wait for its next paced submit request, enough to keep
them busy). Only that many of the run's tasks are out
at a site at once; when an attempt finishes, or a site's workers change, the next held
task is released to the site expected to finish it first
(:mod:`chiltepin.federation.estimates`).

A site with fewer workers than its declared capacity (none yet, or blocks still queued)
is given that capacity plus its prefetch: the demand that makes its provider ask the
scheduler for all of its nodes at once. Every site's queue so
races, and whichever gets nodes first takes the rest of the work; a site with workers is
chosen before one without (whose start, until it has been seen, is presumed to take
``race_after_s``). So that those few tasks are not stranded behind a slow queue (nor the
tail of a burst behind a site's busy workers), once nothing is held that another site's
idle workers could take, a task still waiting at its site is raced on such an idle worker
as soon as that worker is expected to finish it sooner than its own site would, by more
than the run its duplicate there will waste (:meth:`Binder.race`, looked at whenever a
site's workers or windows change and every tick): the first result wins, the other is a
counted and dropped duplicate, and no task runs more than twice. The cost is bounded by
the window: at most that many duplicate task runs per site, each only if its workers do
come, so at most (capacity + prefetch) x task time of node-hours per site and race.

Held tasks are queued by what they may use (pinned site, tags, allowed sites, sites
already failed, walltime), so a pinned task waits only for its own site and never blocks
tasks behind it that could go elsewhere. Across queues, the longest-waiting head goes first.
Tasks that may use one site only are not held to its window: holding them keeps no choice
open, and all of them at the site is what tells its provider how many nodes to ask for
(a window's worth may not, when a hung block still counts as running). They wait on the
client only while the site is out (unhealthy, or offline after announcing a stop).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from chiltepin.federation.backends.base import Backend
from chiltepin.federation.estimates import Estimates
from chiltepin.federation.placement import Placement, not_yet_failed
from chiltepin.federation.placers import Start
from chiltepin.federation.tasks import Attempt, LogicalTask

log = logging.getLogger(__name__)
TICK_S = 1.0  # how often held tasks are looked at without an event (a site's cool-down ends)
RACE_AFTER_S = 5.0  # what a site with no workers is presumed to take to start, until seen
RACE_AFTER_RUNS = 3  # ...or this many typical run times, when the site does not say workers

# (task, the attempt it got, race, error): a release that raised, for the federation to end
NotReleased = Callable[[LogicalTask, Attempt | None, bool, BaseException], None]
Handover = tuple[LogicalTask, Backend, bool]  # (task, site, a worker is free for it there)


@dataclass
class _Queue:
    """Held tasks that may use the same sites, in submission order."""

    sites: tuple[str, ...]
    tasks: deque[tuple[int, LogicalTask]] = field(default_factory=deque)


def _head(item: tuple[tuple[object, ...], _Queue]) -> int:
    """A queue's place in line: when its first held task was submitted."""
    tasks = item[1].tasks
    return tasks[0][0] if tasks else -1


class Binder:
    """The held tasks, each site's window, and the release of the one to the other: the
    late-binding :class:`~chiltepin.federation.placers.Placer`."""

    def __init__(
        self,
        placement: Placement,
        estimates: Estimates,
        prefetch: dict[str, int],
        release: Start,
        not_released: NotReleased,
        *,
        race_after_s: float = RACE_AFTER_S,
    ) -> None:
        """``placement`` gives the candidates, ``estimates`` what each site is expected to
        do, ``prefetch`` each site's tasks beyond its workers; ``release`` starts a chosen
        attempt and ``not_released`` ends a task whose release raised."""
        self._placement = placement
        self._backends = placement.backends
        self._estimates = estimates
        self._prefetch = prefetch
        self._release = release
        self._not_released = not_released
        self.race_after_s = race_after_s
        self._queues: dict[tuple[object, ...], _Queue] = {}
        self._out = {name: 0 for name in self._backends}
        self._seq = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        for backend in self._backends.values():
            backend.on_capacity = self.pump
        self._ticker = threading.Thread(target=self._tick, name="chiltepin-binder", daemon=True)
        self._ticker.start()

    # -- what the federation tells it -----------------------------------------------------

    def place(self, task: LogicalTask) -> None:
        """Hold ``task`` for a site that can start it, refusing it now if no healthy site
        could ever take it (:class:`~chiltepin.federation.placement.NoSiteAvailable`)."""
        self._placement.available_for(task)
        self.hold(task)

    def hold(self, task: LogicalTask) -> None:
        """Queue ``task`` until a site it may use has room; release what can go now."""
        key = (
            task.pinned_site,
            task.tags,
            task.allowed,
            frozenset(task.excluded_sites),
            task.resources.walltime,
        )
        with self._lock:
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = _Queue(self._sites_for(task))
            queue.tasks.append((self._seq, task))
            self._seq += 1
        self.pump()

    def adopted(self, attempt: Attempt) -> None:
        """An attempt a previous client placed is out at its site: count it in the window."""
        with self._lock:
            attempt.in_window = True
            self._out[attempt.site] += 1

    def finished(self, attempt: Attempt) -> None:
        """``attempt`` no longer takes a place in its site's window; release the next."""
        with self._lock:
            if not attempt.in_window:
                return
            attempt.in_window = False
            self._out[attempt.site] -= 1
        self.pump()

    @property
    def held(self) -> int:
        with self._lock:
            return sum(len(q.tasks) for q in self._queues.values())

    def close(self, *, cancel: bool) -> None:
        """Release nothing more; with ``cancel``, cancel what is still held."""
        self._stop.set()
        self._ticker.join()
        with self._lock:
            held = [task for q in self._queues.values() for _, task in q.tasks]
            self._queues.clear()
        for task in held if cancel else ():
            task.future.cancel()

    # -- windows and choices ----------------------------------------------------------------

    def _sites_for(self, task: LogicalTask) -> tuple[str, ...]:
        pool = self._placement.matching(
            task.tags, task.pinned_site, task.allowed, task.resources.walltime
        )
        return tuple(b.name for b in not_yet_failed(pool, task.excluded_sites))

    def workers(self, site: str) -> int:
        """Workers ``site`` has now: what it says, else as many as it ran at once."""
        live = self._backends[site].live_workers
        return live if live is not None else self._estimates[site].concurrency

    def window(self, site: str) -> int:
        """How many of this run's tasks may be out at ``site`` now."""
        backend = self._backends[site]
        if not (backend.healthy and backend.accepting):
            return 0
        workers = self.workers(site)
        # Until a site has all the workers it is declared to have, it is given enough work
        # for its provider to ask for all of its blocks at once (Parsl scales blocks by
        # outstanding tasks); a window of live workers alone would grow it a block a time.
        demand = max(workers, backend.capacity)
        in_transit = self._estimates.in_transit(site, workers, backend.pace_s)
        return demand + max(self._prefetch[site], in_transit)

    def _run_s(self, site: str) -> float:
        """A task's run time at ``site``: its own estimate, else the sites' typical one."""
        run = self._estimates[site].run_s
        return (run if run is not None else self._estimates.typical_run_s()) or 0.0

    def expected_s(self, site: str) -> float:
        """Seconds until a task released to ``site`` now would be done there."""
        estimate = self._estimates[site]
        run = self._run_s(site)
        workers = self.workers(site)
        if workers == 0:
            wait = estimate.queue_wait_s
            expected = (self.race_after_s if wait is None else wait) + run
        else:
            ahead = max(0, self._out[site] - workers + 1)
            expected = run * (1 + ahead / workers)
        return expected / max(0.05, 1.0 - estimate.failure_rate)

    def _throughput(self, site: str) -> float:
        """Tasks per second ``site`` completes when busy (0 while unknown)."""
        run = self._estimates[site].run_s
        workers = self.workers(site)
        if not run or not workers:
            return 0.0
        return workers / run * (1.0 - self._estimates[site].failure_rate)

    def _choose(self, queue: _Queue, usable: list[str], free: dict[str, int]) -> str | None:
        """The site the head of ``queue`` goes to now, or None to keep holding it.

        Among usable sites with room, the one expected to finish it first, unless the
        other sites would work off everything held here (and what they already have)
        and finish this task too before that one could: then it waits for them, which
        keeps the tail of a run off a slow site.
        """
        open_sites = [s for s in usable if free[s] > 0]
        if not open_sites:
            return None
        best = min(open_sites, key=self.expected_s)
        others = [s for s in usable if s != best and self._throughput(s) > 0]
        if others:
            rate = sum(self._throughput(s) for s in others)
            drain_s = (len(queue.tasks) + sum(self._out[s] for s in others)) / rate
            quickest = min(self._estimates[s].run_s or 0.0 for s in others)
            if self.expected_s(best) > drain_s + quickest:
                return None
        return best

    # -- releasing --------------------------------------------------------------------------

    def pump(self) -> None:
        """Release held tasks to sites with room, as many as fit."""
        releases: list[Handover] = []
        if self._stop.is_set():
            return
        with self._lock:
            windows = {name: self.window(name) for name in self._backends}
            free = {name: windows[name] - self._out[name] for name in self._backends}
            progressed = True
            while progressed:
                progressed = False
                for key, queue in sorted(self._queues.items(), key=_head):
                    while queue.tasks and queue.tasks[0][1].state.settled:  # cancelled
                        queue.tasks.popleft()
                    if not queue.tasks:
                        del self._queues[key]
                        continue
                    usable = [s for s in queue.sites if windows[s] > 0]
                    if len(queue.sites) == 1:  # no choice to keep open: all go, if it may
                        site = usable[0] if usable else None
                        taken = len(queue.tasks)
                    else:
                        site, taken = self._choose(queue, usable, free), 1
                    if site is None:
                        continue
                    for _ in range(taken):
                        _, task = queue.tasks.popleft()
                        self._estimates.asked(site, was_idle=self._out[site] == 0)
                        unqueued = self._out[site] < self.workers(site)
                        free[site] -= 1
                        self._out[site] += 1
                        releases.append((task, self._backends[site], unqueued))
                    progressed = True
        self._hand_over(releases, race=False)
        self.race()

    def _hand_over(self, releases: list[Handover], *, race: bool) -> None:
        """Start the chosen attempts. One that cannot even start gives its place back and
        goes to the federation, which ends its task through its one door."""
        for task, backend, unqueued in releases:
            try:
                self._release(task, backend, race, unqueued)
            except Exception as err:
                log.exception("task %s could not be placed on %s", task.id, backend.name)
                attempt = task.current
                if attempt is None or attempt.site != backend.name or not attempt.in_window:
                    attempt = None  # it got no attempt there: its place is given back here
                    with self._lock:
                        self._out[backend.name] -= 1
                self._not_released(task, attempt, race, err)

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            self.pump()

    def _waiting_at(self, site: str, now: float) -> list[tuple[Attempt, float]]:
        """Attempts out at ``site`` that have not started there by the estimates, each
        with the seconds until it would be done there.

        With no workers, every attempt waits: until the site is seen to start work (its
        queue wait), for as long as is left of it, else with no end in sight. With
        workers, the first that many attempts run and each one beyond waits its turn,
        half a run on average for the workers' tasks already under way. A site that does
        not say its workers waits when it has started none of its work in a few typical
        runs (or ``race_after_s``)."""
        backend = self._backends[site]
        attempts = backend.in_flight()
        live = backend.live_workers
        estimate = self._estimates[site]
        since = self._estimates.waiting_since(site)
        run = self._run_s(site)
        if live is None:
            typical = self._estimates.typical_run_s() or 0.0
            cold = since is not None and now - since >= max(
                self.race_after_s, RACE_AFTER_RUNS * typical
            )
            return [(a, math.inf) for a in attempts] if cold else []
        if live == 0:
            if since is None:  # nothing sent here is known to wait (a resumed run's
                return []  # reattached tasks: their endpoint still holds and runs them)
            wait = estimate.queue_wait_s
            left = math.inf if wait is None else max(0.0, wait - (now - since))
            return [(a, left + run) for a in attempts]
        return [
            (attempt, run * ((turn + 0.5) / live + 1))
            for turn, attempt in enumerate(attempts[live:])
        ]

    def race(self) -> None:
        """Start a second attempt of a task still waiting at its site on an idle worker
        elsewhere (one that nothing held could use), as soon as that worker's result,
        round trip included, is expected sooner than the task's own site would finish it
        by more than a run there: the duplicate its site runs later (neither an engine
        nor the service takes back a task) costs one run of a worker, and a race must
        win more than that. A site with no workers and no queue wait learned yet could
        take any time, so its tasks go at once."""
        now = time.time()
        races: list[Handover] = []
        with self._lock:
            waiting = {s for q in self._queues.values() if q.tasks for s in q.sites}
            idle = {
                s: self.workers(s) - self._out[s]
                for s, b in self._backends.items()
                if s not in waiting and b.healthy and b.accepting
            }
            idle = {s: n for s, n in idle.items() if n > 0}
            for site in self._backends:
                if not any(s != site for s in idle):  # (a site never races against itself)
                    continue
                waste_s = self._run_s(site)
                for attempt, left_s in self._waiting_at(site, now):
                    task = attempt.task
                    if not (attempt.in_window and task.state.live) or task.was_raced:
                        continue
                    targets = [s for s in self._sites_for(task) if s != site and idle.get(s, 0) > 0]
                    if not targets:
                        continue
                    target = min(targets, key=self._sooner_s)
                    if self._sooner_s(target) + waste_s >= left_s:
                        continue
                    idle[target] -= 1
                    idle = {s: n for s, n in idle.items() if n > 0}
                    self._out[target] += 1
                    races.append((task, self._backends[target], True))  # to an idle worker
        self._hand_over(races, race=True)

    def _sooner_s(self, site: str) -> float:
        """Seconds until a task started at ``site`` now would be back: the expected finish
        and the round trip."""
        return self.expected_s(site) + (self._estimates[site].round_trip_s or 0.0)
