"""``Federation``: one ``concurrent.futures.Executor`` over many sites.

Each ``submit`` becomes a logical task: validated and serialised once (size-checked
against the service's limit), journalled, then placed on a site by the placement policy:
by default held until a site can start it (:mod:`~chiltepin.federation.binding`), or
handed out at once by a fixed split (:mod:`~chiltepin.federation.placement`).
When a site fails under it (lost workers, killed batch job, endpoint offline, a refused
submission that is not the user's fault) the task is placed again elsewhere, within a
retry budget; the user's own exceptions are never retried. Whatever happens, each
logical task resolves exactly once.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import globus_sdk
from globus_compute_sdk.errors import TaskExecutionFailed

from chiltepin.client.calls import (
    SERIALIZER,
    SOURCE_SERIALIZER,
    Call,
    check_callable,
    serialize,
)
from chiltepin.client.compute import BudgetedClient
from chiltepin.client.config import (
    FederationArgs,
    Policy,
    ResolvedSite,
    SiteKind,
    SitesArg,
    coerce_sites,
    default_run_dir,
    resolve,
    run_directory,
)
from chiltepin.client.limits import polls_crowd_submits, submit_pace_s
from chiltepin.client.resources import Resources, parse_resources
from chiltepin.errors import ChiltepinError
from chiltepin.federation.backends import Backend, EndpointBackend, LocalBackend
from chiltepin.federation.binding import Binder
from chiltepin.federation.budget import BudgetExceeded, meter_for
from chiltepin.federation.estimates import Estimates
from chiltepin.federation.failures import TaskLost, is_site_failure
from chiltepin.federation.functions import FunctionRegistry
from chiltepin.federation.gc_freeze import freeze_for_run, thaw_after_run
from chiltepin.federation.journal import Journal
from chiltepin.federation.journal_format import TaskOptions
from chiltepin.federation.placement import NoSiteAvailable, Placement
from chiltepin.federation.preflight import client_versions
from chiltepin.federation.progress import LiveProgress, summary_table
from chiltepin.federation.reattach import reattach
from chiltepin.federation.staging import (
    StagingQueue,
    concrete_pairs,
    fill_args,
    has_site_paths,
    stage_specs,
    template_values,
)
from chiltepin.federation.stats import RunStats, SiteCounts
from chiltepin.federation.streams import BUFFER, as_completed_lazily, in_order
from chiltepin.federation.tasks import Attempt, LogicalTask, TaskFuture
from chiltepin.probe import record
from chiltepin.staging.stager import Stager

log = logging.getLogger(__name__)
_SUBMISSION_ERRORS = (globus_sdk.GlobusAPIError, globus_sdk.NetworkError)


class Federation(concurrent.futures.Executor):
    """Submit Python functions to named sites; results come back exactly once.

    ``sites`` is a sites file path, a :class:`FederationConfig`, a mapping of site name to
    entry, or ``None`` for the embedded local default (no Globus account needed).
    ``policy``, ``retries``, ``run_dir`` and ``gc_freeze`` (see
    :mod:`chiltepin.federation.gc_freeze`) override the sites file's values.
    """

    def __init__(
        self,
        sites: SitesArg = None,
        *,
        policy: Policy | str | None = None,
        retries: int | None = None,
        run_dir: str | Path | None = None,
        progress: bool | None = None,
        client: BudgetedClient | None = None,
        status_poll_s: float = 5.0,
        budget: float | None = None,
        staging: Stager | None = None,
        gc_freeze: bool | None = None,
        functions_as_source: bool | None = None,
    ) -> None:
        args = FederationArgs.check(
            policy=policy,
            retries=retries,
            budget=budget,
            status_poll_s=status_poll_s,
            gc_freeze=gc_freeze,
            progress=progress,
            run_dir=run_dir,
        )
        config, source, base_dir = coerce_sites(sites)
        self.config = config
        self.policy = args.policy or config.policy
        self.retries = config.retries if args.retries is None else args.retries
        self.run_dir = run_directory(run_dir or config.run_dir or default_run_dir())
        self.gc_freeze = config.gc_freeze if gc_freeze is None else gc_freeze
        self.functions_as_source = (
            config.functions_as_source if functions_as_source is None else functions_as_source
        )
        self._function_serializer = SOURCE_SERIALIZER if self.functions_as_source else SERIALIZER
        resolved = resolve(config, source, base_dir)
        self.cost = meter_for(args.budget, resolved) if args.budget is not None else None
        self.journal = Journal(self.run_dir)
        self.journal.run(config.model_dump(mode="json"))
        self._client = client
        self._functions: FunctionRegistry | None = None
        # One task group per run: its results flow on one AMQP queue, and a reattached
        # client can ask the service for exactly this run's tasks.
        self.task_group_id = uuid.uuid4()
        self._reloaders: list[Any] = []  # SDK executors that reloaded a dead client's tasks
        self._stager: Stager | None = staging
        self._staging: StagingQueue | None = None
        endpoints = sum(r.kind is not SiteKind.local for r in resolved.values())
        pace_s = submit_pace_s(endpoints, status_poll_s)
        self.backends = [self._backend(r, status_poll_s, pace_s) for r in resolved.values()]
        if crowded := polls_crowd_submits(endpoints, status_poll_s):
            log.warning(crowded)
        self.placement = Placement(self.backends, self.policy)
        self.stats = RunStats([b.name for b in self.backends])
        self.estimates = Estimates([b.name for b in self.backends])
        self.binder = Binder(
            self.placement,
            self.estimates,
            {b.name: b.resolved.entry.prefetch for b in self.backends},
            lambda task, backend, race, unqueued: self._place(
                task, backend, windowed=True, race=race, unqueued=unqueued
            ),
            self._not_released,
        )
        for backend in self.backends:
            backend.on_stopped = self._site_stopped
        # Futures of submit()ted tasks until as_completed() hands them out (a map's are
        # its own); and every unsettled task's, for shutdown. Nothing else is kept of a
        # settled task: a long run's client holds only what is out and what is unread.
        self._kept: dict[str, TaskFuture] = {}
        self._unsettled: dict[str, TaskFuture] = {}
        self._functions_serialized: dict[int, tuple[Callable[..., Any], str, int]] = {}
        self._ids = itertools.count()
        self._function_numbers = itertools.count()
        self.restored = (0, 0)  # ended tasks a reattach counted (ok, failed), no futures
        self._shutdown = False
        self._lock = threading.Lock()
        self._progress = LiveProgress(self.stats) if LiveProgress.wanted(progress) else None
        if self._progress:
            self._progress.start()
        self._stop_watch = threading.Event()
        self._watcher = threading.Thread(
            target=self._watch_remote_ids, name="chiltepin-journal", daemon=True
        )
        self._watcher.start()
        if self.gc_freeze:
            freeze_for_run()

    # -- construction -------------------------------------------------------------------

    @property
    def client(self) -> BudgetedClient:
        """The shared Globus Compute client (built on first use by an endpoint site)."""
        if self._client is None:
            from chiltepin import auth

            self._client = BudgetedClient(app=auth.globus_app())
        return self._client

    def _backend(self, resolved: ResolvedSite, poll_s: float, pace_s: float) -> Backend:
        if resolved.kind is SiteKind.local:
            return LocalBackend(resolved, self.run_dir)
        if self._functions is None:
            self._functions = FunctionRegistry(self.client)
        return EndpointBackend(
            resolved,
            self.client,
            self._functions,
            task_group_id=self.task_group_id,
            poll_s=poll_s,
            pace_s=pace_s,
            client_versions=client_versions(),
            functions_as_source=self.functions_as_source,
            on_versions=self.journal.versions,
        )

    # -- submission ---------------------------------------------------------------------

    def submit(  # type: ignore[override]  # site=, resources=, tags=, stage_*= are not fn's
        self,
        fn: Callable[..., Any],
        /,
        *args: Any,
        site: str | None = None,
        resources: Resources | dict[str, Any] | None = None,
        tags: Iterable[str] | None = None,
        stage_in: Iterable[tuple[str, str]] = (),
        stage_out: Iterable[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> TaskFuture:
        """Run ``fn(*args, **kwargs)`` on ``site`` (or wherever the policy places it).

        ``stage_in`` / ``stage_out`` are (source, destination) locations
        (``globus://collection/path``, ``file:///path``; ``{scratch}``, ``{run_id}``,
        ``{task_id}`` filled per site): inputs are in place before the task starts, outputs
        are home before its future resolves. :class:`SitePath` arguments are filled the
        same way.
        """
        check_callable(fn, "Federation.submit")
        return self._submit(
            fn,
            args,
            kwargs,
            site=site,
            resources=resources,
            tags=tags,
            stage_in=stage_in,
            stage_out=stage_out,
            keep=True,
        )

    def _submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        site: str | None = None,
        resources: Resources | dict[str, Any] | None = None,
        tags: Iterable[str] | None = None,
        allowed: Sequence[str] | None = None,
        policy: Policy | None = None,
        stage_in: Iterable[tuple[str, str]] = (),
        stage_out: Iterable[tuple[str, str]] = (),
        keep: bool = False,
    ) -> TaskFuture:
        """Submit one task; with ``keep`` the federation keeps its future for
        :meth:`as_completed` and :attr:`futures` until handed out there."""
        if self._shutdown:
            raise RuntimeError("cannot submit to a Federation after shutdown")
        if self.cost is not None:
            self.cost.admit()
        wanted = frozenset(tags or ())
        parsed = parse_resources(resources)
        stage_in_specs = stage_specs(stage_in, "stage_in")
        stage_out_specs = stage_specs(stage_out, "stage_out")
        self.placement.check_request(site, wanted, parsed, allowed)
        function, number = self._serialized_function(fn)
        call = Call.of(function, args, kwargs)
        task_id = f"t{next(self._ids):06d}"
        name = getattr(fn, "__qualname__", type(fn).__name__)
        task = LogicalTask(
            id=task_id,
            name=name,
            call=call,
            resources=parsed,
            pinned_site=site,
            tags=wanted,
            future=TaskFuture(task_id),
            allowed=tuple(allowed) if allowed else None,
            policy=policy,
            stage_in=stage_in_specs,
            stage_out=stage_out_specs,
        )
        options = TaskOptions(
            site=site,
            tags=tuple(sorted(wanted)),
            resources=parsed.requested,
            allowed=task.allowed,
            policy=policy.value if policy is not None else None,
            stage_in=task.stage_in,
            stage_out=task.stage_out,
        )
        self.journal.task(task_id, number, SERIALIZER.serialize((args, kwargs)), options)
        self._track(task, keep=keep)
        self._dispatch(task)
        return task.future

    def _serialized_function(self, fn: Callable[..., Any]) -> tuple[str, int]:
        """A function is serialised, and journalled, once per federation however many
        tasks call it (dill's pure-Python pickling of code is the dearest step of a
        submit, and its text would be most of each task's journal line): it and the
        number the journal knows it by."""
        with self._lock:
            known = self._functions_serialized.get(id(fn))
            if known is not None and known[0] is fn:
                return known[1], known[2]
        what = f"the function {getattr(fn, '__qualname__', fn)!r}"
        serialized = serialize(fn, what, self._function_serializer)
        with self._lock:
            known = self._functions_serialized.get(id(fn))
            if known is None or known[0] is not fn:
                number = next(self._function_numbers)
                name = getattr(fn, "__qualname__", type(fn).__name__)
                self.journal.function(number, name, serialized)
                known = self._functions_serialized[id(fn)] = (fn, serialized, number)
        return known[1], known[2]

    def _track(self, task: LogicalTask, *, keep: bool) -> None:
        future = task.future
        with self._lock:
            self._unsettled[future.task_id] = future
            if keep:
                self._kept[future.task_id] = future
        future.add_done_callback(self._settled)
        self.stats.submitted()

    def _settled(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._unsettled.pop(future.task_id, None)  # type: ignore[attr-defined]  # a TaskFuture

    def _dispatch(self, task: LogicalTask) -> None:
        """Hold ``task`` for late binding, or hand it to a site now (a fixed split)."""
        policy = task.policy or self.policy
        try:
            if policy is Policy.soonest:  # refuse now what no healthy site could take
                self.placement.available(
                    task.tags,
                    pinned=task.pinned_site,
                    excluded=task.excluded_sites,
                    allowed=task.allowed,
                    walltime=task.resources.walltime,
                )
                self.binder.hold(task)
                return
            backend = self.placement.choose(
                task.tags,
                pinned=task.pinned_site,
                excluded=task.excluded_sites,
                allowed=task.allowed,
                policy=policy,
                walltime=task.resources.walltime,
            )
        except NoSiteAvailable as err:  # (a stood-by attempt, if any, ends with it)
            self._end_failed(task, task.current or task.raced, err)
            return
        self._place(task, backend)

    def _not_released(
        self, task: LogicalTask, attempt: Attempt | None, race: bool, error: BaseException
    ) -> None:
        """The binder could not start ``task`` where it chose (``attempt``: the attempt it
        got there, if any). A race's second attempt only gives up its place: the first
        runs on. Otherwise the task ends with the error, as a fixed split's submit would
        end it."""
        if attempt is not None:
            self.binder.finished(attempt)
            if race and task.withdraw(attempt):
                return
        if not race:
            self._end_failed(task, task.current or task.raced, error)

    def _place(
        self,
        task: LogicalTask,
        backend: Backend,
        *,
        windowed: bool = False,
        race: bool = False,
        unqueued: bool = False,
    ) -> None:
        """Start an attempt of ``task`` on ``backend`` (``windowed``: in its binding window;
        ``race``: beside the task's attempt that waits on a site with no workers yet;
        ``unqueued``: a worker there is free for it)."""
        routing = backend.routing(task.resources)
        attempt = task.new_attempt(backend.name, routing, race=race)
        attempt.in_window, attempt.unqueued = windowed, unqueued
        race = task.raced is not None  # beside a waiting or a stood-by attempt
        if race:
            self.stats.bump(backend.name, "raced")
        self.journal.attempt(
            task.id,
            attempt.number,
            backend.name,
            routing.options,
            routing.resource_specification,
            race=race,
        )
        self.stats.bump(backend.name, "tasks")
        call = attempt.call
        site_paths = has_site_paths(call.args, call.kwargs)
        if not (task.stage_in or task.stage_out or site_paths):
            backend.submit(attempt, self._on_done)
            return
        try:  # this site's paths: a refusal ends the task now, journalled, never pending
            values = template_values(backend.resolved.site, self.run_dir.name, task.id)
            if site_paths:
                attempt.site_call = call.with_arguments(*fill_args(call.args, call.kwargs, values))
            pairs = concrete_pairs(task.stage_in, values)
            concrete_pairs(task.stage_out, values)  # refused before the task runs, not after
        except ChiltepinError as err:
            self.binder.finished(attempt)
            self._end_failed(task, attempt, err)
            return
        if not pairs:
            backend.submit(attempt, self._on_done)
            return
        self.staging.request(pairs).add_done_callback(
            lambda staged: self._staged_in(attempt, backend, staged)
        )

    def _staged_in(
        self, attempt: Attempt, backend: Backend, staged: concurrent.futures.Future[Any]
    ) -> None:
        """Inputs are on the site (or could not be put there): run the task, or fail it."""
        error = staged.exception()
        if error is None:
            backend.submit(attempt, self._on_done)
            return
        self.binder.finished(attempt)
        self._end_failed(attempt.task, attempt, error)

    @property
    def staging(self) -> StagingQueue:
        """The run's staging queue (and its Stager), made on first use."""
        with self._lock:
            if self._staging is None:
                self._staging = StagingQueue(self._make_stager)
            return self._staging

    def _make_stager(self) -> Stager:
        if self._stager is None:
            self._stager = Stager()
        return self._stager

    # -- completion ---------------------------------------------------------------------

    def _on_done(self, attempt: Attempt, future: concurrent.futures.Future[Any]) -> None:
        task = attempt.task
        backend = self.placement.backends[attempt.site]
        self.binder.finished(attempt)
        error = concurrent.futures.CancelledError() if future.cancelled() else future.exception()
        if error is None:
            value, raw = future.result()  # what the probe returns
            ran = record(raw)
            released = attempt.submitted_at if attempt.unqueued else None
            self.estimates.ran(attempt.site, ran["start"], ran["end"], released=released)
            payload = SERIALIZER.serialize(value)  # ``ran`` is journalled beside it
            if task.stage_out and task.is_current(attempt):
                values = template_values(backend.resolved.site, self.run_dir.name, task.id)
                self.staging.request(concrete_pairs(task.stage_out, values)).add_done_callback(
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
        staged: concurrent.futures.Future[Any],
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
        if self._shutdown and isinstance(error, concurrent.futures.CancelledError):
            task.resolve(attempt, error=error)
            return
        if is_site_failure(error):
            self.estimates.failed(attempt.site)
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
        if not task.is_current(attempt):
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
        self._dispatch(task)

    def _site_stopped(self, attempts: list[Attempt]) -> int:
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
            self.binder.finished(attempt)
            if task.withdraw(attempt):  # racing already: its other attempt runs on
                continue
            if not task.stand_by(attempt):
                continue
            moved += 1
            task.excluded_sites.add(attempt.site)
            self.stats.bump(attempt.site, "failovers")
            self._dispatch(task)
        return moved

    def _may_move(self, task: LogicalTask, site: str) -> bool:
        """Whether a stopped site's task may be placed again now: it is not pinned there,
        has attempts left, and another site could take it."""
        if task.pinned_site is not None or len(task.attempts) > self.retries:
            return False
        try:
            self.placement.available(
                task.tags,
                excluded=task.excluded_sites | {site},
                allowed=task.allowed,
                walltime=task.resources.walltime,
            )
        except NoSiteAvailable:
            return False
        return True

    def _watch_remote_ids(self) -> None:
        """Journal remote task ids as the SDK learns them, so a killed client can reattach."""
        while not self._stop_watch.wait(0.5):
            self._journal_remote_ids()

    def _journal_remote_ids(self) -> None:
        for backend in self.backends:
            for attempt in backend.newly_identified():
                self.journal.remote(
                    attempt.task.id, attempt.number, str(attempt.remote_id), attempt.task_group
                )

    # -- the rest of the Executor interface ---------------------------------------------

    def map(
        self,
        fn: Callable[..., Any],
        *iterables: Iterable[Any],
        sites: Sequence[str] | None = None,
        policy: Policy | str | None = None,
        resources: Resources | dict[str, Any] | None = None,
        tags: Iterable[str] | None = None,
        timeout: float | None = None,
        chunksize: int = 1,
        buffersize: int = BUFFER,
    ) -> Iterator[Any]:
        """Like ``Executor.map``: yields results lazily in input order. ``sites``
        restricts placement to those sites.

        The inputs are a stream: ``buffersize`` tasks are submitted now, and one more as
        each result is read (fewer while late binding already holds that many tasks), so
        a generator of a million inputs runs in the memory of ``buffersize`` tasks.
        """
        check_callable(fn, "Federation.map")
        for name in sites or ():
            self.placement.check_request(name, frozenset())
        chosen = Policy(policy) if policy is not None else None
        inputs = zip(*iterables, strict=False)

        def submitted() -> Iterator[concurrent.futures.Future[Any]]:
            for args in inputs:
                try:
                    yield self._submit(
                        fn, args, {}, resources=resources, tags=tags, allowed=sites, policy=chosen
                    )
                except BudgetExceeded as err:  # the rest is not submitted; say so in order
                    refused: concurrent.futures.Future[Any] = concurrent.futures.Future()
                    refused.set_exception(err)
                    yield refused

        deadline = None if timeout is None else time.monotonic() + timeout
        return in_order(submitted(), deadline, buffersize, self._room(buffersize))

    def as_completed(
        self,
        futures: Iterable[concurrent.futures.Future[Any]] | None = None,
        timeout: float | None = None,
        *,
        buffersize: int = BUFFER,
    ) -> Iterator[TaskFuture]:
        """Futures as they finish: ``futures``, or by default those of every task
        :meth:`submit` gave out that this has not handed out yet (each is handed out
        once; the federation then forgets it).

        ``futures`` may be a generator that submits as it goes
        (``fed.as_completed(fed.submit(f, x) for x in inputs)``): it is pulled
        ``buffersize`` ahead of what has been yielded, as :meth:`map` pulls its inputs.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        futures = self._handed_out(self.futures if futures is None else futures)
        return as_completed_lazily(  # type: ignore[return-value]  # TaskFutures unless given others
            futures, deadline, buffersize, self._room(buffersize)
        )

    def _handed_out(
        self, futures: Iterable[concurrent.futures.Future[Any]]
    ) -> Iterator[concurrent.futures.Future[Any]]:
        """``futures``, each forgotten by the federation as it is pulled: as_completed()
        hands it to its consumer."""
        for future in futures:
            task_id = getattr(future, "task_id", None)
            if task_id is not None:
                with self._lock:
                    self._kept.pop(task_id, None)
            yield future

    def _room(self, buffersize: int) -> Callable[[], bool]:
        """Whether a stream may submit another task: late binding's held queue is the
        client's one queue of waiting tasks, whoever submitted them."""
        return lambda: self.binder.held < buffersize

    @property
    def futures(self) -> list[TaskFuture]:
        """Futures of the tasks :meth:`submit` gave out (and a reattached run restored)
        that :meth:`as_completed` has not handed out yet, in submission order."""
        with self._lock:
            return list(self._kept.values())

    def summary(self) -> list[SiteCounts]:
        counts = self.stats.snapshot()
        for c, backend in zip(counts, self.backends, strict=True):
            c.late = backend.late_results
        return counts

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work; with ``wait``, let outstanding tasks finish first. Then shut
        every site down (engines, executors, their batch jobs) and close the journal."""
        if self._shutdown:
            return
        self._shutdown = True
        try:
            with self._lock:
                futures = list(self._unsettled.values())
            if cancel_futures:
                for future in futures:
                    future.cancel()
            elif wait:
                concurrent.futures.wait(futures)
            self.binder.close(cancel=cancel_futures or not wait)
            self.journal.estimates(self.estimates.snapshot())
            self._stop_watch.set()
            self._watcher.join()
            self._journal_remote_ids()
            if self._staging is not None:
                self._staging.close()
            for reloader in self._reloaders:
                reloader.shutdown(wait=False, cancel_futures=True)
            for backend in self.backends:
                backend.shutdown(cancel=cancel_futures or not wait)
            if self._progress:
                self._progress.stop()
            self.journal.close()
        finally:
            if self.gc_freeze:
                thaw_after_run()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        self.shutdown(wait=exc_type is None, cancel_futures=exc_type is not None)
        return None

    # -- reattaching to a run whose client died -----------------------------------------

    @classmethod
    def reattach(
        cls,
        run_dir: str | Path,
        sites: SitesArg = None,
        *,
        progress: bool | None = None,
        client: BudgetedClient | None = None,
        status_poll_s: float = 5.0,
        finished: bool = True,
    ) -> Federation:
        """Pick up a run from its journal (see :mod:`chiltepin.federation.reattach`).

        ``sites`` defaults to the sites the run was started with. With ``finished=False``
        tasks that had ended are counted (:attr:`restored`) but get no future: what
        collecting a long run needs, without holding all of its results.
        """
        return reattach(
            cls,
            Path(run_dir),
            sites,
            progress=progress,
            client=client,
            status_poll_s=status_poll_s,
            finished=finished,
        )

    def print_summary(self, console: Any = None) -> None:
        from rich.console import Console

        (console or Console()).print(summary_table(self.summary()))
