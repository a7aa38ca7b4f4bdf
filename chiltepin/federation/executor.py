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

from chiltepin.client.calls import SERIALIZER, SOURCE_SERIALIZER, Call
from chiltepin.client.compute import BudgetedClient
from chiltepin.client.config import (
    FederationConfig,
    Policy,
    ResolvedSite,
    SiteKind,
    SitesArg,
    coerce_sites,
    default_run_dir,
    resolve,
)
from chiltepin.client.resources import Resources, Routing, parse_resources
from chiltepin.embedded import reap_leftovers
from chiltepin.errors import ChiltepinError
from chiltepin.federation.backends import Backend, EndpointBackend, LocalBackend
from chiltepin.federation.backends.endpoint import reload_task_group
from chiltepin.federation.binding import Binder
from chiltepin.federation.budget import BudgetExceeded, meter_for
from chiltepin.federation.estimates import Estimates
from chiltepin.federation.failures import TaskLost, is_site_failure
from chiltepin.federation.functions import FunctionRegistry
from chiltepin.federation.gc_freeze import freeze_for_run, thaw_after_run
from chiltepin.federation.journal import Journal, RunRecord, read_journal
from chiltepin.federation.placement import NoSiteAvailable, Placement
from chiltepin.federation.preflight import client_versions
from chiltepin.federation.progress import LiveProgress, summary_table
from chiltepin.federation.staging import (
    StagingQueue,
    concrete_pairs,
    fill_args,
    has_site_paths,
    template_values,
)
from chiltepin.federation.stats import RunStats, SiteCounts
from chiltepin.federation.tasks import Attempt, LogicalTask, TaskFuture
from chiltepin.probe import record
from chiltepin.staging.stager import Stager

log = logging.getLogger(__name__)
_SUBMISSION_ERRORS = (globus_sdk.GlobusAPIError, globus_sdk.NetworkError)


GATHER = 64
GATHER_S = 0.05


def _in_order(
    futures: list[concurrent.futures.Future[Any]], deadline: float | None
) -> Iterator[Any]:
    """Results of ``futures`` in order, as ``Executor.map`` yields them.

    A consumer that has caught up would otherwise be woken once per result: at hundreds
    of short tasks a second that is a thread switch per task, paid on the thread that
    delivers every result. So once it has waited for the next result, it also waits a
    moment (``GATHER_S``, or until the ``GATHER`` after it are in) and yields what has
    arrived meanwhile: a few dozen wake-ups a second, each result late by 50 ms at most.
    """

    def remaining() -> float | None:
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    for index, future in enumerate(futures):
        if not future.done():
            concurrent.futures.wait((future,), remaining())
            left = remaining()
            following = futures[index + 1 : index + 1 + GATHER]
            concurrent.futures.wait(following, GATHER_S if left is None else min(GATHER_S, left))
        yield future.result(remaining())


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
        config, source, base_dir = coerce_sites(sites)
        self.config = config
        self.policy = Policy(policy) if policy is not None else config.policy
        self.retries = config.retries if retries is None else retries
        self.run_dir = Path(run_dir or config.run_dir or default_run_dir()).expanduser()
        self.gc_freeze = config.gc_freeze if gc_freeze is None else gc_freeze
        self.functions_as_source = (
            config.functions_as_source if functions_as_source is None else functions_as_source
        )
        self._function_serializer = SOURCE_SERIALIZER if self.functions_as_source else SERIALIZER
        resolved = resolve(config, source, base_dir)
        self.cost = meter_for(budget, resolved) if budget is not None else None
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
        self.backends = [self._backend(r, status_poll_s) for r in resolved.values()]
        self.placement = Placement(self.backends, self.policy)
        self.stats = RunStats([b.name for b in self.backends])
        self.estimates = Estimates([b.name for b in self.backends])
        self.binder = Binder(
            self.placement,
            self.estimates,
            {b.name: b.resolved.entry.prefetch for b in self.backends},
            lambda task, backend, race: self._place(task, backend, windowed=True, race=race),
        )
        self._futures: list[TaskFuture] = []  # every task's, in submission order
        self._functions_serialized: dict[int, tuple[Callable[..., Any], str]] = {}
        self._ids = itertools.count()
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

    def _backend(self, resolved: ResolvedSite, poll_s: float) -> Backend:
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
            client_versions=client_versions(),
            functions_as_source=self.functions_as_source,
            on_versions=self.journal.versions,
        )

    # -- submission ---------------------------------------------------------------------

    def submit(  # type: ignore[override]
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
        return self._submit(
            fn,
            args,
            kwargs,
            site=site,
            resources=resources,
            tags=tags,
            stage_in=stage_in,
            stage_out=stage_out,
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
    ) -> TaskFuture:
        if self._shutdown:
            raise RuntimeError("cannot submit to a Federation after shutdown")
        if self.cost is not None:
            self.cost.admit()
        wanted = frozenset(tags or ())
        parsed = parse_resources(resources)
        self.placement.check_request(site, wanted, parsed, allowed)
        call = Call.of(self._serialized_function(fn), args, kwargs)
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
            stage_in=tuple((str(a), str(b)) for a, b in stage_in),
            stage_out=tuple((str(a), str(b)) for a, b in stage_out),
        )
        self.journal.task(
            task_id,
            name,
            call.arguments,
            {
                "site": site,
                "tags": sorted(wanted),
                "resources": parsed.requested,
                "allowed": task.allowed,
                "stage_in": task.stage_in,
                "stage_out": task.stage_out,
            },
        )
        self._track(task)
        self._dispatch(task)
        return task.future

    def _serialized_function(self, fn: Callable[..., Any]) -> str:
        """A function is serialised once per federation, however many tasks call it
        (dill's pure-Python pickling of code is the dearest step of a submit)."""
        with self._lock:
            known = self._functions_serialized.get(id(fn))
        if known is None or known[0] is not fn:
            known = (fn, self._function_serializer.serialize(fn))
            with self._lock:
                self._functions_serialized[id(fn)] = known
        return known[1]

    def _track(self, task: LogicalTask) -> None:
        with self._lock:
            self._futures.append(task.future)
        self.stats.submitted()

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
        except NoSiteAvailable as err:
            current = task.current
            if current is None:
                task.future.set_exception(err)
            else:
                task.resolve(current, error=err)
            return
        self._place(task, backend)

    def _place(
        self, task: LogicalTask, backend: Backend, *, windowed: bool = False, race: bool = False
    ) -> None:
        """Start an attempt of ``task`` on ``backend`` (``windowed``: in its binding window;
        ``race``: beside the task's attempt that waits on a site with no workers yet)."""
        routing = backend.routing(task.resources)
        attempt = task.new_attempt(backend.name, routing, race=race)
        attempt.in_window = windowed
        routed = {
            "options": routing.options,
            "resource_specification": routing.resource_specification,
        }
        if race:
            self.stats.bump(backend.name, "raced")
            routed["race"] = True
        self.journal.attempt(task.id, attempt.number, backend.name, routed)
        self.stats.bump(backend.name, "tasks")
        call = attempt.call
        if not (task.stage_in or has_site_paths(call.args, call.kwargs)):
            backend.submit(attempt, self._on_done)
            return
        values = template_values(backend.resolved.site, self.run_dir.name, task.id)
        if has_site_paths(call.args, call.kwargs):
            attempt.site_call = call.with_arguments(*fill_args(call.args, call.kwargs, values))
        self.staging.request(concrete_pairs(task.stage_in, values)).add_done_callback(
            lambda staged: self._staged_in(attempt, backend, staged)
        )

    def _staged_in(
        self, attempt: Attempt, backend: Backend, staged: concurrent.futures.Future
    ) -> None:  # type: ignore[type-arg]
        """Inputs are on the site (or could not be put there): run the task, or fail it."""
        error = staged.exception()
        if error is None:
            backend.submit(attempt, self._on_done)
            return
        self.binder.finished(attempt)
        self._end_failed(attempt, error)

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

    def _on_done(self, attempt: Attempt, future: concurrent.futures.Future) -> None:  # type: ignore[type-arg]
        task = attempt.task
        backend = self.placement.backends[attempt.site]
        self.binder.finished(attempt)
        error = concurrent.futures.CancelledError() if future.cancelled() else future.exception()
        if error is None:
            value, raw = future.result()  # what the probe returns
            ran = record(raw)
            self.estimates.ran(attempt.site, ran["start"], ran["end"])
            # Local engines hand over the result as the worker serialised it.
            payload = getattr(future, "serialized_result", None)
            payload = payload or SERIALIZER.serialize((value, ran))
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
        staged: concurrent.futures.Future,
    ) -> None:  # type: ignore[type-arg]
        """The task's outputs are home (or could not be brought home)."""
        error = staged.exception()
        if error is None:
            self._succeeded(attempt, value, ran, payload)
            return
        self._end_failed(attempt, error, ran=ran)

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
        self._end_failed(attempt, error, text)

    def _end_failed(
        self,
        attempt: Attempt,
        error: BaseException,
        text: str | None = None,
        ran: dict[str, Any] | None = None,
    ) -> None:
        """End the task with ``error`` if ``attempt`` is still its current one: journal
        the outcome (``text``, default ``str(error)``) and count the failure, once."""
        task = attempt.task
        if task.resolve(
            attempt,
            error=error,
            record=lambda: self.journal.outcome(
                task.id,
                attempt.number,
                False,
                str(error) if text is None else text,
                type(error).__name__,
                ran,
            ),
        ):
            self.stats.bump(attempt.site, "failed")

    def _retry_elsewhere(self, task: LogicalTask, attempt: Attempt, error: BaseException) -> None:
        if not task.is_current(attempt):
            return
        self.stats.bump(attempt.site, "retries")
        if len(task.attempts) > self.retries:
            sites = ", ".join(a.site for a in task.attempts)
            lost = TaskLost(
                f"task {task.id} ({task.name}) failed on every attempt ({sites});"
                f" last error: {error}"
            )
            self._end_failed(attempt, lost)
            return
        task.excluded_sites.add(attempt.site)
        self.stats.bump(attempt.site, "failovers")
        log.info("task %s: %s failed (%s); placing it again", task.id, attempt.site, error)
        self._dispatch(task)

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

    def map(  # type: ignore[override]
        self,
        fn: Callable[..., Any],
        *iterables: Iterable[Any],
        sites: Sequence[str] | None = None,
        policy: Policy | str | None = None,
        resources: Resources | dict[str, Any] | None = None,
        tags: Iterable[str] | None = None,
        timeout: float | None = None,
        chunksize: int = 1,
    ) -> Iterator[Any]:
        """Like ``Executor.map``: submits everything now, yields results lazily in input
        order. ``sites`` restricts placement to those sites."""
        for name in sites or ():
            self.placement.check_request(name, frozenset())
        chosen = Policy(policy) if policy is not None else None
        futures: list[concurrent.futures.Future[Any]] = []
        for args in zip(*iterables, strict=False):
            try:
                futures.append(
                    self._submit(
                        fn, args, {}, resources=resources, tags=tags, allowed=sites, policy=chosen
                    )
                )
            except BudgetExceeded as err:  # the rest is not submitted; say so in order
                refused: concurrent.futures.Future[Any] = concurrent.futures.Future()
                refused.set_exception(err)
                futures.append(refused)
        return _in_order(futures, None if timeout is None else time.monotonic() + timeout)

    def as_completed(
        self, futures: Iterable[TaskFuture] | None = None, timeout: float | None = None
    ) -> Iterator[TaskFuture]:
        """Futures (default: every task of this federation) as they finish."""
        if futures is None:
            futures = self.futures
        return concurrent.futures.as_completed(futures, timeout)  # type: ignore[return-value]

    @property
    def futures(self) -> list[TaskFuture]:
        with self._lock:
            return list(self._futures)

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
            futures = self.futures
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
    ) -> Federation:
        """Pick up a run from its journal: finished tasks resolve from the run directory,
        tasks an endpoint still holds are collected by their remote ids, and the rest
        (never submitted, or lost with an embedded engine) are submitted again.

        ``sites`` defaults to the sites the run was started with.
        """
        record = read_journal(Path(run_dir))
        stopped = reap_leftovers(Path(run_dir) / "engines")
        if stopped:
            log.warning("stopped %d process(es) the dead client's engines left", len(stopped))
        config = sites if sites is not None else FederationConfig.model_validate(record.config)
        federation = cls(
            config,
            run_dir=run_dir,
            progress=progress,
            client=client,
            status_poll_s=status_poll_s,
        )
        federation._restore(record)
        return federation

    def _restore(self, record: RunRecord) -> None:
        rewatch: dict[str, list[Attempt]] = {}
        numbers = [int(task_id[1:]) for task_id in record.tasks]
        self._ids = itertools.count(max(numbers, default=-1) + 1)
        for rec in record.tasks.values():
            meta = rec.meta
            task = LogicalTask(
                id=rec.id,
                name=rec.name,
                call=Call.restore(record.call(rec)),
                resources=parse_resources(meta.get("resources")),
                pinned_site=meta.get("site"),
                tags=frozenset(meta.get("tags", [])),
                future=TaskFuture(rec.id),
                allowed=tuple(meta["allowed"]) if meta.get("allowed") else None,
                stage_in=tuple(tuple(p) for p in meta.get("stage_in", ())),
                stage_out=tuple(tuple(p) for p in meta.get("stage_out", ())),
            )
            for old in rec.attempts:  # keep attempt numbers increasing across clients
                previous = task.new_attempt(
                    old.site, Routing(old.options, old.resource_specification)
                )
                previous.remote_id, previous.task_group = old.remote, old.task_group
                previous.reported = True
            self._track(task)
            last = task.current
            if rec.outcome is not None and last is not None:
                self._restore_outcome(
                    task, last, rec.outcome["ok"], rec.outcome["kind"], record.result(rec)
                )
            elif (
                last is not None
                and last.remote_id
                and last.task_group
                and isinstance(self.placement.backends.get(last.site), EndpointBackend)
            ):
                attempt = task.new_attempt(last.site, last.routing)
                attempt.remote_id, attempt.task_group = last.remote_id, last.task_group
                self.stats.bump(last.site, "tasks")
                rewatch.setdefault(last.task_group, []).append(attempt)
            else:
                self._dispatch(task)
        for task_group, attempts in rewatch.items():
            executor, futures = reload_task_group(self.client, task_group)
            self._reloaders.append(executor)
            for attempt in attempts:
                backend = self.placement.backends[attempt.site]
                assert isinstance(backend, EndpointBackend)
                self.binder.adopted(attempt)
                backend.adopt(attempt, self._on_done, futures.get(str(attempt.remote_id)))

    def _restore_outcome(
        self, task: LogicalTask, attempt: Attempt, ok: bool, kind: str, payload: str
    ) -> None:
        attempt.reported = False
        self.stats.bump(attempt.site, "tasks")
        if ok:
            value, _ = SERIALIZER.deserialize(payload)
            task.resolve(attempt, value=value)
            self.stats.bump(attempt.site, "succeeded")
            return
        error: BaseException = (
            TaskExecutionFailed(payload)
            if kind == "TaskExecutionFailed"
            else ChiltepinError(payload)
        )
        task.resolve(attempt, error=error)
        self.stats.bump(attempt.site, "failed")

    def print_summary(self, console: Any = None) -> None:
        from rich.console import Console

        (console or Console()).print(summary_table(self.summary()))
