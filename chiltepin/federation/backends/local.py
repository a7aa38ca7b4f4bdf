"""The ``local`` site kind: embedded engines inside the client process.

One :class:`~chiltepin.embedded.EmbeddedEngine` per distinct set of user options (as a
template-capable endpoint starts one user endpoint per distinct options), created on first
use and shut down with the federation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from chiltepin.client.config import ResolvedSite
from chiltepin.embedded import EmbeddedEngine
from chiltepin.federation.backends.base import Backend, failed
from chiltepin.federation.tasks import Attempt


class LocalBackend(Backend):
    def __init__(self, resolved: ResolvedSite, run_dir: Path) -> None:
        super().__init__(resolved)
        self._run_dir = run_dir / "engines" / resolved.name
        self._engines: dict[str, EmbeddedEngine] = {}
        self._engines_lock = threading.Lock()

    def _engine(self, attempt: Attempt) -> EmbeddedEngine:
        key = attempt.routing.key[0]
        with self._engines_lock:
            engine = self._engines.get(key)
            if engine is None:
                engine = EmbeddedEngine(
                    self.resolved.site,
                    attempt.routing.options,
                    run_dir=self._run_dir / f"options-{len(self._engines)}",
                )
                engine.start()
                self._engines[key] = engine
            return engine

    def _submit(self, attempt: Attempt, finished: Callable[[Future], None]) -> None:  # type: ignore[type-arg]
        try:
            engine = self._engine(attempt)
            future = engine.submit_call(
                attempt.call.buffer(probe_by_reference=engine.workers_import_chiltepin),
                attempt.routing.resource_specification,
            )
        except Exception as err:  # the engine could not start or accept work
            finished(failed(err))
            return
        future.add_done_callback(finished)

    def shutdown(self, *, cancel: bool) -> None:
        with self._engines_lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.shutdown()
