"""The ``local`` site kind: embedded engines inside the client process.

One :class:`~chiltepin.embedded.EmbeddedEngine` per distinct set of user options (as a
template-capable endpoint starts one user endpoint per distinct options), created on first
use and shut down with the federation; the site's default options' engine is started as
the federation opens (:meth:`LocalBackend.warm`), beside the other sites', so its workers
are starting before the first task is submitted. While any runs, a watcher asks their interchanges
for the workers connected now, for late binding's windows, and (for the run's live
status) how many of them are idle and how many blocks run or wait.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from chiltepin.client.config import ResolvedSite
from chiltepin.client.resources import Routing, parse_resources
from chiltepin.embedded import EmbeddedEngine
from chiltepin.federation.backends.base import Backend, failed
from chiltepin.federation.capacity import (
    Blocks,
    blocks_of_states,
    idle_of_managers,
    workers_of_managers,
)
from chiltepin.federation.tasks import Attempt
from chiltepin.upstream.engine import provider_jobs

log = logging.getLogger(__name__)
CAPACITY_POLL_S = 0.5


class LocalBackend(Backend):
    def __init__(self, resolved: ResolvedSite, run_dir: Path) -> None:
        super().__init__(resolved)
        self._run_dir = run_dir / "engines" / resolved.name
        self._engines: dict[str, EmbeddedEngine] = {}
        self._engines_lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._warming: threading.Thread | None = None
        #: Engines this site started, over the run (each once): what warming did, for tests.
        self.engines_started = 0

    @property
    def engines(self) -> list[EmbeddedEngine]:
        """The engines started so far, one per distinct set of options (for whoever
        watches their processes)."""
        with self._engines_lock:
            return list(self._engines.values())

    def worker_groups(self) -> set[int]:
        """The process group of each block its engines' providers started: every worker
        of this site, for whoever ends them as a lost node would (a failover test or
        benchmark kills them by these, never by a name)."""
        return {
            os.getpgid(job["remote_pid"])
            for engine in self.engines
            for job in provider_jobs(engine.engine).values()
        }

    def warm(self) -> None:
        """Start the engine of the site's default options (tasks that ask for no
        resources of their own) in a thread of its own, so every site's engine and first
        block start at once while the caller goes on."""
        self._warming = threading.Thread(
            target=self._warm, name=f"chiltepin-warm-{self.name}", daemon=True
        )
        self._warming.start()

    def _warm(self) -> None:
        try:
            self._engine(self.routing(parse_resources(None)))
        except Exception as err:  # the first task tries again, and fails as it would have
            if not self._stop.is_set():  # (a federation shut at once is no failure)
                log.warning("site %s could not start ahead of its tasks: %s", self.name, err)

    def _engine(self, routing: Routing) -> EmbeddedEngine:
        key = routing.key[0]
        with self._engines_lock:
            engine = self._engines.get(key)
            if engine is None:
                if self._stop.is_set():
                    raise RuntimeError(f"site {self.name} is shut down")
                engine = EmbeddedEngine(
                    self.resolved.site,
                    routing.options,
                    run_dir=self._run_dir / f"options-{len(self._engines)}",
                )
                engine.start()
                self.engines_started += 1
                self._engines[key] = engine
                if self._watcher is None:
                    self._watcher = threading.Thread(
                        target=self._watch_workers,
                        name=f"chiltepin-workers-{self.name}",
                        daemon=True,
                    )
                    self._watcher.start()
            return engine

    def _watch_workers(self) -> None:
        """Keep ``live_workers``, ``idle_workers`` and ``blocks`` current: sums over this
        site's engines' managers and blocks."""
        while not self._stop.wait(CAPACITY_POLL_S):
            with self._engines_lock:
                engines = list(self._engines.values())
            workers = idle = running = pending = 0
            try:
                for engine in engines:
                    engine.record_new_blocks()
                    managers = engine.engine.get_connected_managers()
                    workers += workers_of_managers(managers)
                    idle += idle_of_managers(managers)
                    blocks = blocks_of_states(engine.block_states())
                    running, pending = running + blocks.running, pending + blocks.pending
            except Exception as err:  # an engine shutting down or its interchange gone
                log.debug("workers of %s unknown: %s", self.name, err)
                continue
            self.idle_workers, self.blocks = idle, Blocks(running, pending)
            self.set_live_workers(workers)

    def _submit(self, attempt: Attempt, finished: Callable[[Future[Any]], None]) -> None:
        try:
            engine = self._engine(attempt.routing)
            future = engine.submit_call(
                attempt.call.buffer(probe_by_reference=engine.workers_import_chiltepin),
                attempt.routing.resource_specification,
            )
        except Exception as err:  # the engine could not start or accept work
            finished(failed(err))
            return
        future.add_done_callback(finished)

    def shutdown(self, *, cancel: bool) -> None:
        self._stop.set()
        if self._warming is not None:  # an engine still starting is stopped with the rest
            self._warming.join()
        if self._watcher is not None:
            self._watcher.join()
        with self._engines_lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.shutdown()
