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
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import globus_sdk

from chiltepin.client.calls import (
    SERIALIZER,
    SOURCE_SERIALIZER,
    Call,
    check_callable,
)
from chiltepin.client.compute import BudgetedClient
from chiltepin.client.config import (
    AlertsConfig,
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
from chiltepin.federation.alerts.run import RunAlerts, run_totals
from chiltepin.federation.backends import Backend, EndpointBackend, LocalBackend, SiteHealth
from chiltepin.federation.budget import BudgetExceeded, meter_for
from chiltepin.federation.conductor import Conductor
from chiltepin.federation.estimates import Estimates
from chiltepin.federation.functions import FunctionRegistry
from chiltepin.federation.gc_freeze import freeze_for_run, thaw_after_run
from chiltepin.federation.journal import Journal
from chiltepin.federation.journal_format import TaskOptions
from chiltepin.federation.ledger import FunctionTexts, TaskLedger, task_name
from chiltepin.federation.live_status import StatusWriter
from chiltepin.federation.placement import Placement
from chiltepin.federation.preflight import client_versions
from chiltepin.federation.progress import LiveProgress, summary_table
from chiltepin.federation.reattach import reattach
from chiltepin.federation.staging import (
    stage_specs,
)
from chiltepin.federation.states import TaskState
from chiltepin.federation.stats import RunStats, SiteCounts
from chiltepin.federation.streams import BUFFER, as_completed_lazily, in_order
from chiltepin.federation.tasks import LogicalTask, TaskFuture
from chiltepin.staging.stager import Stager

log = logging.getLogger(__name__)
_SUBMISSION_ERRORS = (globus_sdk.GlobusAPIError, globus_sdk.NetworkError)


class Federation(concurrent.futures.Executor):
    """Submit Python functions to named sites; results come back exactly once.

    A ``concurrent.futures.Executor``, so anything that takes an executor (Academy's
    ``Manager``, a Parsl-free pipeline, ``Executor.map`` code) runs on many sites at once.
    Each task is journalled in ``run_dir`` before it leaves, so a killed client picks the
    run up with :meth:`reattach` and no task runs twice because of it.

    Args:
        sites: a sites file path, a :class:`~chiltepin.client.config.FederationConfig`,
            a mapping of site name to entry, or ``None`` for the embedded local default
            (no Globus account needed).
        policy: how tasks are placed: ``soonest`` (the default: held until a site can
            start them, then released to the one expected to finish first),
            ``capacity``, ``round_robin`` or ``least_loaded`` (fixed splits, handed out
            at submit). Overrides the sites file's ``policy``.
        retries: how many times a task is placed again after a *site* failure (lost
            workers, killed batch job, endpoint gone); the user's own exceptions are
            never retried. Overrides the sites file.
        run_dir: where the journal, results and reports go; default a new directory
            under ``~/.chiltepin/runs``. Overrides the sites file.
        progress: show the live progress line (default: when stderr is a terminal).
        client: the Globus Compute client to share (default: one built from the
            chiltepin Globus app on first use by an endpoint site). Tests pass a client
            of the local stand-in here.
        status_poll_s: seconds between endpoint status polls; each poll spends one of the
            service's 20 requests per 10 s, so fewer polls leave more for submits.
        budget: the most the run may spend (in the sites' ``cost_unit``, from
            ``cost_per_node_hour``); tasks beyond it are refused with
            :class:`~chiltepin.federation.budget.BudgetExceeded`.
        staging: the :class:`~chiltepin.staging.stager.Stager` that moves ``stage_in`` /
            ``stage_out`` data (default: one made on first use).
        gc_freeze: freeze the garbage collector's view of objects made before the run
            (:mod:`chiltepin.federation.gc_freeze`): saves long full collections in runs
            of a million tasks. Overrides the sites file.
        functions_as_source: send functions as source text instead of by reference, for
            workers whose Python cannot import the client's modules. Overrides the sites
            file.
        alerts: where to send alerts (a webhook URL and/or a command given the JSON on
            stdin) and which: site lost or back, a site's failure rate over a threshold,
            budget at 80 % and 100 %, run finished; an
            :class:`~chiltepin.client.config.AlertsConfig` or a mapping of its keys
            (:mod:`chiltepin.federation.alerts`). Delivery never blocks or fails the run.
            Overrides the sites file's ``alerts``.
        warm: start every site getting ready as the federation opens, all at once
            (default): local engines start and their first blocks are asked for, and
            each endpoint's status is asked once, so the first tasks find workers up or
            coming and placement knows which sites have them. ``False`` starts a site on
            its first task instead, for sites that charge for nodes the run may not use.
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
        alerts: AlertsConfig | dict[str, Any] | None = None,
        warm: bool = True,
    ) -> None:
        args = FederationArgs.check(
            policy=policy,
            retries=retries,
            budget=budget,
            status_poll_s=status_poll_s,
            gc_freeze=gc_freeze,
            progress=progress,
            run_dir=run_dir,
            alerts=alerts,
            warm=warm,
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
        resolved = resolve(config, source, base_dir)
        self.cost = meter_for(args.budget, resolved) if args.budget is not None else None
        self.journal = Journal(self.run_dir)
        self.journal.run(config.model_dump(mode="json"))
        self._client = client
        self._registry: FunctionRegistry | None = None
        # One task group per run: its results flow on one AMQP queue, and a reattached
        # client can ask the service for exactly this run's tasks.
        self.task_group_id = uuid.uuid4()
        endpoints = sum(r.kind is not SiteKind.local for r in resolved.values())
        pace_s = submit_pace_s(endpoints, status_poll_s)
        self.backends = [self._backend(r, status_poll_s, pace_s) for r in resolved.values()]
        if crowded := polls_crowd_submits(endpoints, status_poll_s):
            log.warning(crowded)
        self.placement = Placement(self.backends, self.policy)
        self.stats = RunStats([b.name for b in self.backends])
        self.estimates = Estimates([b.name for b in self.backends])
        self.conductor = Conductor(
            self.placement,
            self.estimates,
            self.stats,
            self.journal,
            policy=self.policy,
            retries=self.retries,
            run_name=self.run_dir.name,
            cost=self.cost,
            stager=staging,
        )
        wanted = args.alerts if args.alerts is not None else config.alerts
        self.alerts = (
            None
            if wanted is None
            else RunAlerts(wanted, self.run_dir, self.journal, self.conductor, self.cost)
        )
        for backend in self.backends:
            backend.on_health = self._site_changed
        for backend in self.backends if args.warm else ():
            backend.warm()
        # Futures of submit()ted tasks until as_completed() hands them out (a map's are
        # its own); and every unsettled task, for shutdown and the live counts. Nothing
        # else is kept of a settled task: a long run's client holds only what is out and
        # what is unread.
        self.ledger = TaskLedger()
        self.function_texts = FunctionTexts(
            self.journal, SOURCE_SERIALIZER if self.functions_as_source else SERIALIZER
        )
        #: Tasks a reattach found ended, as (succeeded, failed), when it gave them no future.
        self.restored = (0, 0)
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
        self._status = StatusWriter(self)  # live status in the journal, for its readers
        self._status.start()
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
        if self._registry is None:
            self._registry = FunctionRegistry(self.client)
        return EndpointBackend(
            resolved,
            self.client,
            self._registry,
            task_group_id=self.task_group_id,
            poll_s=poll_s,
            pace_s=pace_s,
            client_versions=client_versions(),
            functions_as_source=self.functions_as_source,
            on_versions=self.journal.versions,
        )

    def _site_changed(self, health: SiteHealth) -> None:
        """A site's health or named state changed: journalled, and judged for alerts."""
        self.journal.site(health.site, health.healthy, health.reason, health.state)
        if self.alerts is not None:
            self.alerts.site(health)

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

        Args:
            fn: the function to run; it must be importable (or sent as source, see
                ``functions_as_source``) where the task runs.
            *args: its positional arguments; :class:`SitePath` arguments are filled per
                site (``{scratch}``, ``{run_id}``, ``{task_id}``).
            site: the one site it may run on (default: any the policy picks).
            resources: what the task needs (``nodes``, ``ranks_per_node``, ``walltime``
                …, see :class:`~chiltepin.client.resources.Resources`); routed to each
                site's user-endpoint options.
            tags: only sites carrying every one of these tags may take it.
            stage_in: (source, destination) locations (``globus://collection/path``,
                ``file:///path``, with ``{scratch}``, ``{run_id}``, ``{task_id}`` filled
                per site) in place before the task starts.
            stage_out: (source, destination) locations brought home before its future
                resolves; a failed output fails the task.
            **kwargs: its keyword arguments.

        Returns:
            the task's :class:`TaskFuture`: it resolves exactly once, with the value, the
            user's exception, or the reason no site could finish it.
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
        function, number = self.function_texts.of(fn)
        call = Call.of(function, args, kwargs)
        task_id = self.ledger.next_id()
        name = task_name(fn)
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
        with self.journal.submission():  # the task's line goes out with its attempt's
            self.journal.task(task_id, number, SERIALIZER.serialize((args, kwargs)), options)
            self.ledger.track(task, keep=keep)
            self.stats.submitted()
            self.conductor.dispatch(task)
        return task.future

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
        """Like ``Executor.map``: yields results lazily in input order.

        The inputs are a stream: ``buffersize`` tasks are submitted now, and one more as
        each result is read (fewer while late binding already holds that many tasks), so
        a generator of a million inputs runs in the memory of ``buffersize`` tasks.

        Args:
            fn: the function to run on each input.
            *iterables: its arguments, zipped as ``map`` zips them.
            sites: restrict placement to these sites.
            policy: this map's placement policy (default: the federation's).
            resources: what each task needs, as for :meth:`submit`.
            tags: only sites carrying every one of these tags may take them.
            timeout: seconds from this call until a result not yet in raises
                ``TimeoutError`` (default: wait as long as it takes).
            chunksize: accepted for ``Executor.map`` compatibility; each input is its
                own task (placement and failover are per task).
            buffersize: how many tasks may be out ahead of the results read.
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
        """Futures as they finish.

        Args:
            futures: the futures to wait for; by default those of every task
                :meth:`submit` gave out that this has not handed out yet (each is handed
                out once; the federation then forgets it). May be a generator that
                submits as it goes (``fed.as_completed(fed.submit(f, x) for x in
                inputs)``): it is pulled ``buffersize`` ahead of what has been yielded,
                as :meth:`map` pulls its inputs.
            timeout: seconds from this call until ``TimeoutError`` if futures remain.
            buffersize: how far ahead of what has been yielded ``futures`` is pulled.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        futures = self.ledger.handed_out(self.futures if futures is None else futures)
        return as_completed_lazily(  # type: ignore[return-value]  # TaskFutures unless given others
            futures, deadline, buffersize, self._room(buffersize)
        )

    def _room(self, buffersize: int) -> Callable[[], bool]:
        """Whether a stream may submit another task: late binding's held queue is the
        client's one queue of waiting tasks, whoever submitted them."""
        return lambda: self.conductor.held < buffersize

    @property
    def futures(self) -> list[TaskFuture]:
        """Futures of the tasks :meth:`submit` gave out (and a reattached run restored)
        that :meth:`as_completed` has not handed out yet, in submission order."""
        return self.ledger.kept

    def states(self) -> dict[TaskState, int]:
        """How many of the run's tasks are in each :class:`TaskState` now (a reattached
        run's ended tasks included): what a live view shows beside the per-site counts."""
        counts = self.ledger.states()
        for site in self.stats.snapshot():
            counts[TaskState.SUCCEEDED] += site.succeeded
            counts[TaskState.FAILED] += site.failed
        counts[TaskState.FAILED] += self.stats.refused
        counts[TaskState.SUCCEEDED] += self.restored[0]
        counts[TaskState.FAILED] += self.restored[1]
        return {state: counts[state] for state in TaskState}

    def summary(self) -> list[SiteCounts]:
        """Per site, what this client has seen happen so far: attempts placed,
        succeeded, failed, retried, failed over, raced, duplicates and late results."""
        counts = self.stats.snapshot()
        for c, backend in zip(counts, self.backends, strict=True):
            c.late = backend.late_results
        return counts

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work, then shut every site down (engines, executors, their batch
        jobs) and close the journal.

        Args:
            wait: let outstanding tasks finish first (held tasks are placed and run).
            cancel_futures: cancel every task not yet settled instead.
        """
        if self._shutdown:
            return
        self._shutdown = True
        self.conductor.closing = True
        try:
            futures = self.ledger.unsettled
            if cancel_futures:
                for future in futures:
                    future.cancel()
            elif wait:
                concurrent.futures.wait(futures)
            self.conductor.stop_placing(cancel=cancel_futures or not wait)
            self._status.stop()
            self.journal.estimates(self.estimates.snapshot())
            self._stop_watch.set()
            self._watcher.join()
            self._journal_remote_ids()
            self.conductor.close()
            for backend in self.backends:
                backend.shutdown(cancel=cancel_futures or not wait)
            if self.alerts is not None:
                self.alerts.finished(run_totals(self.states(), self.summary(), self.cost))
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
        """Pick up a run whose client died, from its journal
        (see :mod:`chiltepin.federation.reattach`): finished tasks resolve from disk,
        tasks an endpoint still holds are collected, the rest are placed again.

        Args:
            run_dir: the run's directory (its ``journal.jsonl``).
            sites: the sites to carry on with (default: those the run was started with).
            progress: show the live progress line, as for :class:`Federation`.
            client: the Globus Compute client to share, as for :class:`Federation`.
            status_poll_s: seconds between endpoint status polls.
            finished: give tasks that had ended a future too; with False they are only
                counted (``restored``): what collecting a long run needs, without holding
                all of its results.
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
        """Print :meth:`summary` as a table.

        Args:
            console: the ``rich`` console to print on (default: a new one on stdout).
        """
        from rich.console import Console

        (console or Console()).print(summary_table(self.summary()))
