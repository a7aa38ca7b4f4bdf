"""The ``endpoint`` site kind: a Globus Compute endpoint reached through the SDK Executor.

One SDK ``Executor`` per distinct routing (user endpoint options + resource
specification), all sharing the federation's client and so its rate budget; attempts
reach the SDK through a :class:`~chiltepin.client.burst.Burst`, so it finds full
batches queued (up to 128 tasks per request), paced while the service's budget is under
pressure so that the sites' requests share it evenly
(:func:`~chiltepin.client.limits.submit_pace_s`). An executor whose submission thread
died (the SDK stops an executor after a failed request) is replaced on next use.

That pool and the submit are this module's job; beside it, each with a module of its own:

- the endpoint's status (:mod:`chiltepin.federation.backends.status`): a monitor polls it
  while work is outstanding and moves the site through named states (online, offline,
  stopped, silent, returned, lost); :attr:`EndpointBackend.state` is where it stands;
- the version pre-flight (:class:`chiltepin.federation.preflight.Preflight`): before the
  first task of each routing, the site's workers are asked for their versions; a site
  whose workers cannot read this client's functions gets none of them, and the attempts
  that were bound for it go elsewhere;
- the allow-list (:mod:`chiltepin.federation.backends.allowlisted`): an endpoint that
  runs only allowed functions gets each call's own function by its allowed id.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from functools import partial
from typing import Any

from globus_compute_sdk import Executor

from chiltepin.client.burst import Burst
from chiltepin.client.calls import SOURCE_SERIALIZER
from chiltepin.client.compute import BudgetedClient
from chiltepin.client.config import ResolvedSite
from chiltepin.federation.backends.allowlisted import AllowListed
from chiltepin.federation.backends.base import Backend, Completion, failed
from chiltepin.federation.backends.status import EndpointState, StatusMonitor
from chiltepin.federation.failures import SiteFailure
from chiltepin.federation.functions import FunctionRegistry
from chiltepin.federation.preflight import Preflight, Versions
from chiltepin.federation.tasks import Attempt
from chiltepin.probe import portable_probe
from chiltepin.upstream.sdk import executor_stopped, future_task_group, stop_result_watcher

log = logging.getLogger(__name__)

Finished = Callable[[Future[Any]], None]


class EndpointBackend(Backend):
    """An ``endpoint`` site: its executor pool and submit, with its status monitor, its
    pre-flight and its allow-list beside them."""

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
        self.pace_s = pace_s
        self._burst: Burst[tuple[Attempt, Finished]] = Burst(
            self._forward, name=f"chiltepin-submit-{self.name}", min_interval=self._pace
        )
        self._as_source = functions_as_source
        self._on_versions = on_versions
        self._preflight = Preflight(
            self.name,
            functions,
            client_versions,
            as_source=functions_as_source,
            on_verdict=self._judged,
        )
        self._allow_listed = AllowListed(
            self.name, str(self.endpoint_id), client, resolved.site.allowed_functions
        )
        self._status = StatusMonitor(
            self,
            client,
            str(self.endpoint_id),
            poll_s=poll_s,
            grace_s=resolved.entry.offline_grace_s,
        )
        self._status.start()

    def warm(self) -> None:
        """Learn at once whether the endpoint is online and how many workers it has (one
        status request): the first windows open from what it says."""
        self._status.warm()

    @property
    def state(self) -> EndpointState:
        """Where the endpoint stands now, as its status polls and pre-flight say."""
        return self._status.state

    @property
    def state_name(self) -> str | None:
        return self.state.value

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

    def _submit(self, attempt: Attempt, finished: Finished) -> None:
        try:
            self._burst.add((attempt, finished))
        except RuntimeError as err:  # the backend is shut down: fail it like a refused submit
            finished(failed(err))

    def _forward(self, batch: list[tuple[Attempt, Finished]]) -> None:
        """Queue a burst of attempts in the SDK back to back, so it sends full batches."""
        batch = [(a, f) for a, f in batch if not a.reported]  # not given up on meanwhile
        allow_list = self._allow_listed.allow_list()
        if allow_list is not None:
            self._allow_listed.forward(batch, allow_list, self._executor, self._heard_from_workers)
            return
        for attempt, _ in batch:
            if not self._preflight.asked(attempt.routing.key):
                self._preflight.ask(attempt.routing.key, partial(self._executor, attempt))
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
        if self.accepting and self.live_workers == 0:
            self._status.poll_soon()

    def _judged(self, versions: dict[str, Any], mismatch: str | None) -> None:
        """The pre-flight's verdict: a mismatch takes the site out for the run."""
        self.versions = versions
        if mismatch is not None:
            self.version_mismatch = mismatch
            self.report_health()
        self._on_versions(self.name, versions)

    def _after_verdict(self, key: tuple[str, str], finished: Finished) -> Finished:
        """``finished``, called only once the pre-flight of ``key`` has answered: on
        workers that cannot read this client's calls, an outcome is no outcome, and the
        attempt goes elsewhere as a site failure."""

        def settle(outcome: Future[Any]) -> None:
            if self.version_mismatch is not None:
                finished(failed(SiteFailure(self.name, self.version_mismatch)))
            else:
                finished(outcome)

        return lambda outcome: self._preflight.then(key, lambda: settle(outcome))

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

    def shutdown(self, *, cancel: bool) -> None:
        """Stop the executors without waiting for their futures: the federation has settled
        every logical task already, and a dead site's futures would never complete."""
        self._status.stop()
        self._burst.close()
        with self._executors_lock:
            executors, self._executors = list(self._executors.values()), {}
        for executor in executors:
            executor.shutdown(wait=False, cancel_futures=cancel)
        for task_group in self._task_groups:  # Executor.shutdown leaves them connected
            stop_result_watcher(task_group)


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
