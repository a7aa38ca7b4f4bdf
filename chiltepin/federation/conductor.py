"""The run's rules for attempts: placing them, and settling each task exactly once.

:class:`~chiltepin.federation.executor.Federation` is what the user holds (submit, map,
as_completed, shutdown); this is what it does with a task once it is journalled: hand it
to its :class:`~chiltepin.federation.placers.Placer`, start each attempt the placer
chooses (staging inputs in first), and sort what comes back. A value settles the task
(after its outputs are home); a site failure places it again elsewhere within the retry
budget; the user's own exception, or no site left, fails it. Every ending goes through
one door (``_end_failed``) or the success path, which journal the outcome before the
user's future can see it. A site that stops has its tasks placed again at once, its
attempts standing by (:meth:`Conductor.site_stopped`). A reattached run hands back what
an endpoint still holds through :meth:`Conductor.collect`.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import Any

import globus_sdk
from globus_compute_sdk.errors import TaskExecutionFailed

from chiltepin.client.calls import SERIALIZER
from chiltepin.client.config import Policy
from chiltepin.errors import ChiltepinError
from chiltepin.federation.backends import Backend, EndpointBackend
from chiltepin.federation.backends.endpoint import reload_task_group
from chiltepin.federation.binding import Binder
from chiltepin.federation.budget import CostMeter
from chiltepin.federation.estimates import Estimates
from chiltepin.federation.failures import TaskLost, is_site_failure
from chiltepin.federation.journal import Journal
from chiltepin.federation.placement import NoSiteAvailable, Placement
from chiltepin.federation.placers import FixedSplit, Placer
from chiltepin.federation.staging import (
    StagingQueue,
    concrete_pairs,
    fill_args,
    has_site_paths,
    template_values,
)
from chiltepin.federation.stats import RunStats
from chiltepin.federation.tasks import Attempt, LogicalTask
from chiltepin.probe import record
from chiltepin.staging.stager import Stager

log = logging.getLogger(__name__)
_SUBMISSION_ERRORS = (globus_sdk.GlobusAPIError, globus_sdk.NetworkError)


class Conductor:
    """Places a run's attempts and settles its tasks; one per :class:`Federation`."""

    def __init__(
        self,
        placement: Placement,
        estimates: Estimates,
        stats: RunStats,
        journal: Journal,
        *,
        policy: Policy,
        retries: int,
        run_name: str,
        cost: CostMeter | None = None,
        stager: Stager | None = None,
    ) -> None:
        """``placement`` holds the sites and the candidates; ``estimates`` and ``stats``
        are updated as attempts end; ``journal`` learns every attempt and outcome.
        ``policy`` is the run's placement policy (a task may carry its own), ``retries``
        how many times a task is placed again after site failures, ``run_name`` fills
        ``{run_id}`` in staging locations, ``cost`` meters node-hours against a budget,
        and ``stager`` moves staged data (made on first use if None)."""
        self.placement = placement
        self.estimates = estimates
        self.stats = stats
        self.journal = journal
        self.policy = policy
        self.retries = retries
        self.run_name = run_name
        self.cost = cost
        self.closing = False  # set at shutdown: a cancelled attempt then ends its task
        self._stager = stager
        self._staging: StagingQueue | None = None
        self._reloaders: list[Any] = []  # SDK executors that reloaded a dead client's tasks
        # An attempt on a site ended with a value (False) or a site failure (True): what a
        # site's failure rate is made of (the user's own exceptions are not the site's).
        self.on_attempt_ended: Callable[[str, bool], None] = lambda site, site_failed: None
        self._lock = threading.Lock()
        backends = list(placement.backends.values())
        # Late binding (also for a map(policy="soonest") under a fixed-split default);
        # the fixed splits are made as tasks ask for them (placer).
        self.binder = Binder(
            placement,
            estimates,
            {b.name: b.resolved.entry.prefetch for b in backends},
            lambda task, backend, race, unqueued: self._place(
                task, backend, race, unqueued, windowed=True
            ),
            self._not_released,
        )
        self._placers: dict[Policy, Placer] = {Policy.soonest: self.binder}
        for backend in backends:
            backend.on_stopped = self.site_stopped

    def placer(self, task: LogicalTask) -> Placer:
        """The placement engine for ``task``'s policy (a map's own, else the run's)."""
        policy = task.policy or self.policy
        with self._lock:
            placer = self._placers.get(policy)
            if placer is None:
                placer = self._placers[policy] = FixedSplit(self.placement, policy, self._place)
            return placer

    def dispatch(self, task: LogicalTask) -> None:
        """Hand ``task`` to its placer; one no site could take ends here (a stood-by
        attempt, if any, ends with it)."""
        try:
            self.placer(task).place(task)
        except NoSiteAvailable as err:
            self._end_failed(task, task.current or task.raced, err)

    def _not_released(
        self, task: LogicalTask, attempt: Attempt | None, race: bool, error: BaseException
    ) -> None:
        """The binder could not start ``task`` where it chose (``attempt``: the attempt it
        got there, if any). A race's second attempt only gives up its place: the first
        runs on. Otherwise the task ends with the error, as a fixed split's submit would
        end it."""
        if attempt is not None:
            self.placer(task).finished(attempt)
            if race and task.withdraw(attempt):
                return
        if not race:
            self._end_failed(task, task.current or task.raced, error)

    def _place(
        self,
        task: LogicalTask,
        backend: Backend,
        race: bool = False,
        unqueued: bool = False,
        *,
        windowed: bool = False,
    ) -> None:
        """Start an attempt of ``task`` on ``backend`` (``windowed``: in its binding window;
        ``race``: beside the task's attempt that waits on a site with no workers yet;
        ``unqueued``: a worker there is free for it)."""
        routing = backend.routing(task.resources)
        attempt = task.new_attempt(backend.name, routing, race=race, running=unqueued)
        attempt.in_window, attempt.unqueued = windowed, unqueued
        if task.raced is not None:  # beside a waiting or a stood-by attempt
            self.stats.bump(backend.name, "raced")
        self.journal.attempt(
            task.id,
            attempt.number,
            backend.name,
            routing.options,
            routing.resource_specification,
            via=attempt.via,
        )
        self.stats.bump(backend.name, "tasks")
        call = attempt.call
        site_paths = has_site_paths(call.args, call.kwargs)
        if not (task.stage_in or task.stage_out or site_paths):
            backend.submit(attempt, self.on_done)
            return
        try:  # this site's paths: a refusal ends the task now, journalled, never pending
            values = template_values(backend.resolved.site, self.run_name, task.id)
            if site_paths:
                attempt.site_call = call.with_arguments(*fill_args(call.args, call.kwargs, values))
            pairs = concrete_pairs(task.stage_in, values)
            concrete_pairs(task.stage_out, values)  # refused before the task runs, not after
        except ChiltepinError as err:
            self.placer(task).finished(attempt)
            self._end_failed(task, attempt, err)
            return
        if not pairs:
            backend.submit(attempt, self.on_done)
            return
        self.staging.request(pairs, direction="in").add_done_callback(
            lambda staged: self._staged_in(attempt, backend, staged)
        )

    def _staged_in(
        self, attempt: Attempt, backend: Backend, staged: concurrent.futures.Future
    ) -> None:
        """Inputs are on the site (or could not be put there): run the task, or fail it."""
        error = staged.exception()
        if error is None:
            backend.submit(attempt, self.on_done)
            return
        self.placer(attempt.task).finished(attempt)
        self._end_failed(attempt.task, attempt, error)

    @property
    def staging(self) -> StagingQueue:
        """The run's staging queue (and its Stager), made on first use."""
        with self._lock:
            if self._staging is None:
                self._staging = StagingQueue(self._make_stager, on_batch=self.journal.transfer)
            return self._staging

    def _make_stager(self) -> Stager:
        if self._stager is None:
            self._stager = Stager()
        return self._stager

    # -- completion ---------------------------------------------------------------------

    def on_done(self, attempt: Attempt, future: concurrent.futures.Future[Any]) -> None:
        task = attempt.task
        backend = self.placement.backends[attempt.site]
        self.placer(task).finished(attempt)
        error = concurrent.futures.CancelledError() if future.cancelled() else future.exception()
        if error is None:
            value, raw = future.result()  # what the probe returns
            ran = record(raw)
            released = attempt.submitted_at if attempt.unqueued else None
            self.estimates.ran(attempt.site, ran["start"], ran["end"], released=released)
            self.on_attempt_ended(attempt.site, False)
            payload = SERIALIZER.serialize(value)  # ``ran`` is journalled beside it
            if task.stage_out and task.is_current(attempt):
                values = template_values(backend.resolved.site, self.run_name, task.id)
                outputs = concrete_pairs(task.stage_out, values)
                self.staging.request(outputs, direction="out").add_done_callback(
                    lambda staged: self._staged_out(attempt, value, ran, payload, staged)
                )
                return
            self._succeeded(attempt, value, ran, payload)
            return
        self._failed(attempt, backend, error)

    def _staged_out(
        self,
        attempt: Attempt,
        value: Any,
        ran: dict[str, Any],
        payload: str,
        staged: concurrent.futures.Future,
    ) -> None:
        """The task's outputs are home (or could not be brought home)."""
        error = staged.exception()
        if error is None:
            self._succeeded(attempt, value, ran, payload)
            return
        self._end_failed(attempt.task, attempt, error, ran=ran)

    def _succeeded(self, attempt: Attempt, value: Any, ran: dict[str, Any], payload: str) -> None:
        task = attempt.task
        backend = self.placement.backends[attempt.site]
        if task.resolve(
            attempt,
            value=value,
            record=lambda: self.journal.outcome(
                task.id, attempt.number, True, payload, "value", ran
            ),
        ):
            self.stats.bump(attempt.site, "succeeded")
            if self.cost is not None:
                self.cost.record(attempt.site, ran)
            backend.record_submission_ok()
        elif task.was_raced:  # the other attempt of a race won: this run was a duplicate
            self.stats.bump(attempt.site, "duplicates")

    def _failed(self, attempt: Attempt, backend: Backend, error: BaseException) -> None:
        task = attempt.task
        if isinstance(error, _SUBMISSION_ERRORS) and is_site_failure(error):
            backend.record_submission_failure(error)
        if self.closing and isinstance(error, concurrent.futures.CancelledError):
            task.resolve(attempt, error=error)
            return
        if is_site_failure(error):
            self.estimates.failed(attempt.site)
            self.on_attempt_ended(attempt.site, True)
            if task.withdraw(attempt):  # it lost a race by failing; the other attempt runs on
                log.info(
                    "task %s: %s failed (%s) beside a racing attempt", task.id, attempt.site, error
                )
                return
            self._retry_elsewhere(task, attempt, error)
            return
        text = error.remote_data if isinstance(error, TaskExecutionFailed) else str(error)
        self._end_failed(task, attempt, error, text)

    def _end_failed(
        self,
        task: LogicalTask,
        attempt: Attempt | None,
        error: BaseException,
        text: str | None = None,
        ran: dict[str, Any] | None = None,
    ) -> None:
        """The one door a failure leaves by: end ``task`` with ``error`` if ``attempt`` is
        still its current one (None: the task was refused before any site took it),
        journal the outcome (``text``, default ``str(error)``; attempt number 0 for a
        refusal) and count the failure, once. A task the user saw fail is never run
        again, by this client or by a resume."""
        if task.resolve(
            attempt,
            error=error,
            record=lambda: self.journal.outcome(
                task.id,
                attempt.number if attempt is not None else 0,
                False,
                str(error) if text is None else text,
                type(error).__name__,
                ran,
            ),
        ):
            if attempt is None:
                self.stats.refuse()
            else:
                self.stats.bump(attempt.site, "failed")

    def _retry_elsewhere(self, task: LogicalTask, attempt: Attempt, error: BaseException) -> None:
        """End ``attempt`` for a site failure and place its task again, or, with no
        attempts left, fail the task (an attempt counts as retried or failed, never both:
        the run report, from the journal, counts it the same way)."""
        if not task.retrying(attempt):
            return
        if len(task.attempts) > self.retries:
            sites = ", ".join(a.site for a in task.attempts)
            lost = TaskLost(
                f"task {task.id} ({task.name}) failed on every attempt ({sites});"
                f" last error: {error}"
            )
            self._end_failed(task, attempt, lost)
            return
        self.stats.bump(attempt.site, "retries")
        task.excluded_sites.add(attempt.site)
        self.stats.bump(attempt.site, "failovers")
        log.info("task %s: %s failed (%s); placing it again", task.id, attempt.site, error)
        self.dispatch(task)

    def site_stopped(self, attempts: list[Attempt]) -> int:
        """A site stopped holding ``attempts`` (it announced a stop, or went silent and
        finished nothing after): each that may go elsewhere is placed again at once, and
        stays live beside its new attempt (:meth:`LogicalTask.stand_by`) without its place
        in the stopped site's window. If the site comes back with its queue intact and
        answers first, that result wins and the other run is counted as a duplicate.
        Returns how many moved (an attempt moved before is not current: never twice)."""
        moved = 0
        for attempt in attempts:
            task = attempt.task
            if attempt is not task.current or not self._may_move(task, attempt.site):
                continue
            self.placer(task).finished(attempt)
            if task.withdraw(attempt):  # racing already: its other attempt runs on
                continue
            if not task.stand_by(attempt):
                continue
            moved += 1
            task.excluded_sites.add(attempt.site)
            self.stats.bump(attempt.site, "failovers")
            self.dispatch(task)
        return moved

    def _may_move(self, task: LogicalTask, site: str) -> bool:
        """Whether a stopped site's task may be placed again now: it is not pinned there,
        has attempts left, and another site could take it."""
        if task.pinned_site is not None or len(task.attempts) > self.retries:
            return False
        try:
            self.placement.available_for(task, leaving=site)
        except NoSiteAvailable:
            return False
        return True

    # -- a reattached run ---------------------------------------------------------------

    def collect(self, task_group: str, attempts: list[Attempt], client: Any) -> None:
        """Wait again for ``attempts``, which a previous client of the run left at their
        endpoints in ``task_group``: one SDK executor reloads the group's results."""
        executor, futures = reload_task_group(client, task_group)
        self._reloaders.append(executor)
        for attempt in attempts:
            backend = self.placement.backends[attempt.site]
            assert isinstance(backend, EndpointBackend)
            self.placer(attempt.task).adopted(attempt)
            backend.adopt(attempt, self.on_done, futures.get(str(attempt.remote_id)))

    # -- the end of the run ---------------------------------------------------------------

    @property
    def held(self) -> int:
        """Tasks waiting on the client for a site."""
        with self._lock:
            placers = list(self._placers.values())
        return sum(p.held for p in placers)

    def stop_placing(self, *, cancel: bool) -> None:
        """Place nothing more; with ``cancel``, cancel what is still held."""
        with self._lock:
            placers = list(self._placers.values())
        for placer in placers:
            placer.close(cancel=cancel)

    def close(self) -> None:
        """Stop staging and the reloaded executors (after the run's last results)."""
        if self._staging is not None:
            self._staging.close()
        for reloader in self._reloaders:
            reloader.shutdown(wait=False, cancel_futures=True)
