"""The ``endpoint`` site kind: a Globus Compute endpoint reached through the SDK Executor.

One SDK ``Executor`` per distinct routing (user endpoint options + resource
specification), all sharing the federation's client and so its rate budget; attempts
reach the SDK through a :class:`~chiltepin.client.burst.Burst`, so it finds full
batches queued (up to 128 tasks per request), paced while the service's budget is under
pressure so that the sites' requests share it evenly
(:func:`~chiltepin.client.limits.submit_pace_s`). An executor whose submission thread
died (the SDK stops an executor after a failed request) is replaced on next use.

A monitor polls the endpoint's status while work is outstanding. The same status gives
the site's live workers (when it carries them). Once the endpoint has been offline for
longer than the site's grace period, the site is marked unhealthy and its in-flight
attempts go back for failover; when the endpoint announces a stop, they go back at once;
where the status does not say whether a stop was announced, they are re-placed only if
none finishes within the grace period of the endpoint's return
(docs/standin-fidelity.md lists each status field read and its fallback).

Before the first task of each routing, the site's workers are asked for their versions
(:mod:`chiltepin.federation.preflight`); a site whose workers cannot read this client's
functions gets none of them, and the attempts that were bound for it go elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import CancelledError, Future
from typing import Any

from globus_compute_sdk import Executor

from chiltepin.client.burst import Burst
from chiltepin.client.calls import SOURCE_SERIALIZER
from chiltepin.client.compute import BudgetedClient
from chiltepin.client.config import ResolvedSite
from chiltepin.endpoints.allowlist import resolve as allow_entries
from chiltepin.federation.allowed import AllowList, with_record
from chiltepin.federation.backends.base import Backend, Completion, failed
from chiltepin.federation.capacity import workers_of_status
from chiltepin.federation.failures import SiteFailure
from chiltepin.federation.functions import FunctionRegistry
from chiltepin.federation.preflight import (
    VERSION_PROBE,
    Versions,
    mismatch,
    versions_of_report,
)
from chiltepin.federation.tasks import Attempt
from chiltepin.probe import portable_probe
from chiltepin.upstream.sdk import executor_stopped, future_task_group, stop_result_watcher

log = logging.getLogger(__name__)
STALE_POLL_GAP_S = 1.0  # the soonest a stale status is asked again after the last poll


class EndpointBackend(Backend):
    def __init__(
        self,
        resolved: ResolvedSite,
        client: BudgetedClient,
        functions: FunctionRegistry,
        *,
        task_group_id: uuid.UUID,
        poll_s: float = 5.0,
        pace_s: float = 0.0,
        client_versions: Versions | None = None,
        functions_as_source: bool = False,
        on_versions: Callable[[str, dict[str, Any]], None] = lambda site, versions: None,
    ) -> None:
        super().__init__(resolved)
        assert resolved.entry.endpoint_id is not None
        self.endpoint_id = resolved.entry.endpoint_id
        self._client = client
        self._functions = functions
        self._executors: dict[tuple[str, str], Executor] = {}
        self._task_group_id = task_group_id
        self._task_groups = {task_group_id}
        self._executors_lock = threading.Lock()
        self._poll_s = poll_s
        self._grace_s = resolved.entry.offline_grace_s
        self._stop = threading.Event()
        self._poll_now = threading.Event()  # a result showed the last status is stale
        self._polled_at = 0.0  # monotonic
        self.pace_s = pace_s
        self._burst: Burst[tuple[Attempt, Callable[[Future[Any]], None]]] = Burst(
            self._forward, name=f"chiltepin-submit-{self.name}", min_interval=self._pace
        )
        self._client_versions = client_versions
        self._as_source = functions_as_source
        self._on_versions = on_versions
        # Per routing, the pre-flight's answer (a future) once its workers were asked.
        self._verdicts: dict[tuple[str, str], Future[Any]] = {}
        self._allow_list: AllowList | None = None
        self._allow_known = False
        self._monitor = threading.Thread(
            target=self._watch_status, name=f"chiltepin-status-{self.name}", daemon=True
        )
        self._monitor.start()

    def _pace(self) -> float:
        """Seconds between this site's submit requests: its pace while the shared budget
        is under pressure, else none (a lone task goes at once)."""
        return self.pace_s if self._client.budget.pressed else 0.0

    def _executor(self, attempt: Attempt) -> Executor:
        key = attempt.routing.key
        with self._executors_lock:
            executor = self._executors.get(key)
            if executor is None or executor_stopped(executor):
                executor = self._client.executor(
                    self.endpoint_id,
                    task_group_id=self._task_group_id,
                    user_endpoint_config=attempt.routing.options or None,
                    resource_specification=attempt.routing.resource_specification or None,
                )
                self._executors[key] = executor
            return executor

    def _submit(self, attempt: Attempt, finished: Callable[[Future[Any]], None]) -> None:
        try:
            self._burst.add((attempt, finished))
        except RuntimeError as err:  # the backend is shut down: fail it like a refused submit
            finished(failed(err))

    def _forward(self, batch: list[tuple[Attempt, Callable[[Future[Any]], None]]]) -> None:
        """Queue a burst of attempts in the SDK back to back, so it sends full batches."""
        batch = [(a, f) for a, f in batch if not a.reported]  # not given up on meanwhile
        allow_list = self._allowed()
        if allow_list is not None:
            self._forward_allowed(batch, allow_list)
            return
        for attempt, _ in batch:
            if attempt.routing.key not in self._verdicts:
                self._preflight(attempt)
        if self.version_mismatch is not None:  # they go elsewhere (their site is out)
            for _, finished in batch:
                finished(failed(SiteFailure(self.name, self.version_mismatch)))
            return
        serializer = SOURCE_SERIALIZER if self._as_source else None
        function_id = None
        for attempt, done in batch:
            finished = self._after_verdict(attempt.routing.key, done)
            try:
                function_id = function_id or self._functions.uuid_for(
                    portable_probe(), serializer=serializer
                )
                future = self._executor(attempt).submit_to_registered_function(
                    function_id, args=attempt.call.sdk_args
                )
            except Exception as err:
                finished(failed(err))
                continue
            attempt.handle = future
            future.add_done_callback(finished)
            future.add_done_callback(self._heard_from_workers)

    def _heard_from_workers(self, _: Future[Any]) -> None:
        """A result came from a site whose last status said it was online with no
        workers: that status is stale (its blocks started since), so ask again now rather
        than a poll period later; until then late binding keeps the site's window at its
        cold size. (An offline site's results are a blip's: its status is polled as usual.)"""
        stale = self.accepting and self.live_workers == 0
        if stale and time.monotonic() - self._polled_at >= STALE_POLL_GAP_S:
            self._poll_now.set()

    def _allowed(self) -> AllowList | None:
        """The endpoint's allow-list, asked of the service once (None: it runs anything)."""
        if not self._allow_known:
            try:
                reply = self._client.get_allowed_functions(str(self.endpoint_id))
            except Exception as err:  # not known yet: ask again with the next burst
                log.debug("allow-list of %s unknown: %s", self.name, err)
                return None
            self._allow_known = True
            if reply.get("restricted"):
                named = allow_entries(self.resolved.site.allowed_functions)
                self._allow_list = AllowList(
                    self.name, str(self.endpoint_id), list(reply.get("functions") or []), named
                )
        return self._allow_list

    def _forward_allowed(
        self,
        batch: list[tuple[Attempt, Callable[[Future[Any]], None]]],
        allow_list: AllowList,
    ) -> None:
        """Submit each call's own function by its allowed id (no probe, no pre-flight:
        the endpoint runs nothing else)."""
        for attempt, finished in batch:
            call = attempt.call
            try:
                function_id = allow_list.function_id(call.function)
                future = self._executor(attempt).submit_to_registered_function(
                    function_id, args=call.args, kwargs=call.kwargs
                )
            except Exception as err:
                finished(failed(err))
                continue
            attempt.handle = future
            with_record(future, self.name).add_done_callback(finished)
            future.add_done_callback(self._heard_from_workers)

    def _preflight(self, attempt: Attempt) -> None:
        """Ask the workers of ``attempt``'s routing for their versions, in the same burst
        as its first tasks (that task starts the user endpoint they need anyway).

        The first tasks are not held back for the answer: waiting would leave the site's
        provider one task to scale blocks by, and send the tasks in a second request (a
        second start command, which the endpoint may take, near its idle exit, as a
        reason to start the user endpoint again). Their outcomes wait for the answer
        instead (:meth:`_after_verdict`)."""
        key = attempt.routing.key
        verdict: Future[Any] = Future()
        self._verdicts[key] = verdict
        if self._client_versions is None:
            verdict.set_result(None)
            return
        try:
            function_id = self._functions.uuid_for(VERSION_PROBE)
            probe = self._executor(attempt).submit_to_registered_function(function_id)
        except Exception as err:  # the site may refuse it (an allow-list): tasks still go
            log.warning("site %s did not say its workers' versions: %s", self.name, err)
            verdict.set_result(None)
            return
        probe.add_done_callback(lambda answer: self._judge(answer, verdict))

    def _judge(self, answer: Future[Any], verdict: Future[Any]) -> None:
        """Compare the workers' versions with this client's; a mismatch takes the site
        out (unless functions travel as source)."""
        try:
            workers = versions_of_report(answer.result())
        except CancelledError:  # the run ended before any worker there started
            verdict.set_result(None)
            return
        except Exception as err:
            log.warning("site %s did not say its workers' versions: %r", self.name, err)
            verdict.set_result(None)
            return
        assert self._client_versions is not None
        problem = mismatch(self.name, self._client_versions, workers)
        self.versions = {
            "client": self._client_versions.as_dict(),
            "workers": workers.as_dict(),
            "mismatch": problem,
            "functions_as_source": self._as_source,
        }
        if problem and not self._as_source:
            log.error("%s", problem)
            self.version_mismatch = problem
        elif problem:
            log.warning("%s; its functions travel as source", problem)
        self._on_versions(self.name, self.versions)
        verdict.set_result(None)

    def _after_verdict(
        self,
        key: tuple[str, str],
        finished: Callable[[Future[Any]], None],
    ) -> Callable[[Future[Any]], None]:
        """``finished``, called only once the pre-flight of ``key`` has answered: on
        workers that cannot read this client's calls, an outcome is no outcome, and the
        attempt goes elsewhere as a site failure."""

        def settle(outcome: Future[Any]) -> None:
            if self.version_mismatch is not None:
                finished(failed(SiteFailure(self.name, self.version_mismatch)))
            else:
                finished(outcome)

        verdict = self._verdicts[key]
        return lambda outcome: verdict.add_done_callback(lambda _: settle(outcome))

    def newly_identified(self) -> list[Attempt]:
        found = []
        for attempt in self.in_flight():
            remote = None if attempt.remote_id else getattr(attempt.handle, "task_id", None)
            if remote:
                attempt.remote_id = remote
                attempt.task_group = future_task_group(attempt.handle)
                found.append(attempt)
        return found

    def adopt(self, attempt: Attempt, on_done: Completion, future: Future[Any] | None) -> None:
        """Follow an attempt a previous (killed) client submitted here; ``future`` comes
        from :func:`reload_task_group`, ``None`` when the service no longer knows it."""
        if attempt.task_group:
            self._task_groups.add(uuid.UUID(attempt.task_group))
        if future is None:
            future = failed(
                SiteFailure(self.name, f"task {attempt.remote_id} is unknown to the service")
            )
        self.track(attempt, on_done, future)

    def _watch_status(self) -> None:
        offline_since: float | None = None
        unannounced: list[Attempt] = []  # held when it went offline without saying why
        suspects: list[Attempt] = []
        back_at = 0.0
        while not self._stop.is_set():
            self._poll_now.wait(self._poll_s)
            self._poll_now.clear()
            if self._stop.is_set():
                return
            self._polled_at = time.monotonic()
            # Out for a spell it can end (a version mismatch lasts the run: nothing to watch)
            out = not self.healthy and self.version_mismatch is None
            if not self.outstanding and not out and self.accepting:
                offline_since, unannounced, suspects = None, [], []
                continue
            try:
                reply = self._client.get_endpoint_status(str(self.endpoint_id))
            except Exception as err:  # the service itself is unreachable: not this site's fault
                log.debug("status of %s unknown: %s", self.name, err)
                continue
            status = reply.get("status")
            if status is None:  # no status in the answer: as good as no answer
                log.debug("status of %s unknown: no 'status' in %s", self.name, reply)
                continue
            if status == "online":
                offline_since = None
                back, self.accepting = not self.accepting or out, True
                if unannounced:  # a stop or a blip: the service did not say which
                    suspects, back_at, unannounced = unannounced, time.monotonic(), []
                suspects = self._settle_suspects(suspects, back_at)
                if out:
                    log.warning("site %s is back online", self.name)
                    self.mark_healthy()
                self._set_live_workers(workers_of_status(reply.get("details") or {}))
                if back:
                    self.on_capacity()
                continue
            self.accepting = False
            self._set_live_workers(0)
            stop = announced_stop(reply)
            if stop:
                self._replace_stopped(self.in_flight(), "the endpoint announced a stop")
            elif stop is None and not unannounced:
                unannounced = self.in_flight()
            offline_since = offline_since or time.monotonic()
            if self.healthy and time.monotonic() - offline_since >= self._grace_s:
                reason = f"endpoint {self.endpoint_id} offline for {self._grace_s:.0f} s"
                self.mark_unhealthy(reason)
                self.fail_in_flight(SiteFailure(self.name, reason))
                unannounced = []

    def _settle_suspects(self, suspects: list[Attempt], back_at: float) -> list[Attempt]:
        """Decide about what an endpoint held when it went offline unannounced.

        Used only when the service's status carries no ``details.heartbeat_period`` (no
        Globus example shows it), so a stop cannot be told from a blip. An endpoint that
        lived through a blip still owns its tasks and delivers some of them once back; a
        stopped one lost them all. So: any of them finished since -> a blip, keep the rest;
        none finished within ``offline_grace_s`` of the endpoint being back -> a stop,
        place the unfinished again (at worst a blip's long tasks run twice; results count
        once). Returns the attempts still under suspicion.
        """
        if not suspects or any(a.reported for a in suspects):
            return []
        if time.monotonic() - back_at < self._grace_s:
            return suspects
        unfinished = [a for a in suspects if not a.reported]
        self._replace_stopped(unfinished, "nothing it held finished after an offline spell")
        return []

    def _replace_stopped(self, held: list[Attempt], why: str) -> None:
        """The endpoint stopped (``why``): what it held goes elsewhere at once.

        A user endpoint takes the tasks queued for it as fast as its engine accepts them and
        acknowledges each to the broker on hand-over, so a stop (an operator's restart, a
        new configuration) may end them with no copy left to redeliver; waiting out the
        grace period would idle them meanwhile. So they are placed again now, on sites
        that can start them (this one takes no new work until it is back online). They
        are not given up: if the endpoint comes back with its queue intact and answers
        first, that result wins (the federation counts the other run as a duplicate); if
        it stays away past the grace period, they fail as any in-flight attempt does. A
        broker or network blip is different: the endpoint lives on and still owns its
        tasks, and it never announced a stop, so nothing is re-placed then.
        """
        with self._lock:
            still = [a for a in held if id(a) in self._in_flight]
        moved = self.on_stopped(still) if still else 0
        if moved:
            log.warning("site %s stopped (%s): placing its %d tasks again", self.name, why, moved)

    def shutdown(self, *, cancel: bool) -> None:
        """Stop the executors without waiting for their futures: the federation has settled
        every logical task already, and a dead site's futures would never complete."""
        self._stop.set()
        self._poll_now.set()
        self._burst.close()
        with self._executors_lock:
            executors, self._executors = list(self._executors.values()), {}
        for executor in executors:
            executor.shutdown(wait=False, cancel_futures=cancel)
        for task_group in self._task_groups:  # Executor.shutdown leaves them connected
            stop_result_watcher(task_group)


def announced_stop(reply: dict[str, Any]) -> bool | None:
    """Whether an offline endpoint said it was shutting down (rather than falling silent);
    ``None`` when the status does not say.

    The endpoint's last status report before it exits carries ``heartbeat_period: 0``
    (globus-compute-endpoint's "shutting down now"); the stand-in passes it through in the
    status details, but no Globus example shows the real service does (see
    docs/standin-fidelity.md). A broker outage or a partition cannot deliver that report.
    """
    details = reply.get("details") or {}
    if "heartbeat_period" not in details:
        return None
    return details["heartbeat_period"] == 0


def reload_task_group(
    client: BudgetedClient, task_group: str
) -> tuple[Executor, Mapping[str, Future[Any]]]:
    """Futures for every task of ``task_group``, by task id, from the service.

    One reload per task group (not per site): the SDK's result watcher is per task group,
    and a second reload of the same group leaves out tasks the first already watches.
    Tasks that finished while nobody watched come back already resolved.
    """
    executor = client.executor()
    try:
        futures = {str(f.task_id): f for f in executor.reload_tasks(task_group)}
    except Exception as err:
        log.warning("could not reload task group %s: %s", task_group, err)
        futures = {}
    return executor, futures
