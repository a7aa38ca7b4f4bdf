"""The embedded engine: a site's user endpoint engine, run inside this Python process.

This is the ``local`` site kind (docs/architecture.md). It needs no Globus account and no
service: the site's user config is rendered by the endpoint's own renderer for the given
options, loaded by the endpoint's own loader, and the resulting engine (GlobusComputeEngine or
GlobusMPIEngine over a Local, Slurm or PBS Pro provider) is started here. Tasks are packed
and results unpacked exactly as the Globus Compute service and SDK do, so a function sees
the same worker environment, and a caller the same ``TaskExecutionFailed``, as through a
real endpoint.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any

from globus_compute_common import messagepack
from globus_compute_common.messagepack.message_types import Result, Task
from globus_compute_sdk.errors import TaskExecutionFailed
from globus_compute_sdk.serialize import ComputeSerializer
from parsl.jobs.states import JobState
from parsl.providers import LocalProvider

from chiltepin.endpoints.options import schema_for, validate_user_options
from chiltepin.endpoints.render import render_for_options
from chiltepin.errors import ChiltepinError
from chiltepin.sites.model import Site
from chiltepin.system import processes
from chiltepin.upstream import config as upstream
from chiltepin.upstream.engine import (
    EngineFuture,
    GlobusComputeEngineBase,
    engine_process_ids,
    log_warnings_only,
    provider_jobs,
    submit_packed,
)

log = logging.getLogger(__name__)


PROCESS_RECORD = "chiltepin-processes.json"


def reap_leftovers(directory: Path) -> list[int]:
    """Stop what engines of a dead client left running under ``directory``.

    Reads every process record below ``directory``; each recorded process still alive
    with the recorded start time is stopped with its process group. Returns the PIDs.
    """
    stopped = []
    for record in directory.rglob(PROCESS_RECORD):
        for entry in json.loads(record.read_text()):
            pid = entry["pid"]
            if not processes.alive(pid, entry["started"]):
                continue
            with contextlib.suppress(ProcessLookupError):
                group = os.getpgid(pid)
                targets = {pid} if group == os.getpgid(0) else processes.group_members([group])
                processes.kill_now(targets)
                stopped.append(pid)
    return stopped


@functools.cache
def chiltepin_installed() -> bool:
    """Whether a fresh interpreter in this environment imports chiltepin (it is
    installed, not only on this script's ``sys.path``): checked once per process."""
    check = [sys.executable, "-c", "import chiltepin.probe"]
    with tempfile.TemporaryDirectory() as elsewhere:  # not the script's directory
        return subprocess.run(check, cwd=elsewhere, capture_output=True, timeout=60).returncode == 0


def console_scripts_on_path() -> None:
    """Put this environment's ``bin`` on PATH: HTEX starts its interchange and workers as
    ``globus-compute-endpoint`` / ``process_worker_pool.py`` console scripts, which a
    virtualenv's python run by full path would not otherwise find."""
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bindir, path]) if path else bindir


class _CallFuture(EngineFuture):
    """The engine's future for one task, settled with what its caller wants.

    The engine sets a packed ``Result``; this future unpacks it as it arrives into the
    function's value or a ``TaskExecutionFailed``, so a task needs no second future and
    no extra callback hop.
    It is marked running from the start: a caller cannot cancel it out from under the
    engine, which would take the failed ``set_result`` for a system failure and rerun it.
    """

    def __init__(self, engine: EmbeddedEngine) -> None:
        super().__init__(gc_task_id=uuid.uuid4())
        self._embedded = engine
        self.set_running_or_notify_cancel()

    def set_result(self, result: Any) -> None:
        self._embedded.record_new_blocks()
        try:
            unpacked = messagepack.unpack(result)
            assert isinstance(unpacked, Result)
            if unpacked.is_error:
                super().set_exception(TaskExecutionFailed(unpacked.data))
                return
            value = self._embedded.serializer.deserialize(unpacked.data)
        except Exception as err:  # a result the client cannot deserialize
            super().set_exception(err)
            return
        super().set_result(value)


class EmbeddedEngine:
    """A started engine for one site and one set of user options.

    >>> with EmbeddedEngine(load_site("localhost")) as engine:
    ...     engine.submit(pow, 2, 10).result()
    1024
    """

    def __init__(
        self,
        site: Site,
        options: dict[str, Any] | None = None,
        run_dir: Path | None = None,
    ) -> None:
        self.site = site
        self.options = dict(options or {})
        validate_user_options(self.options, schema_for(site), f"options for site {site.name!r}")
        self._run_dir_owner: tempfile.TemporaryDirectory[str] | None = None
        if run_dir is None:
            self._run_dir_owner = tempfile.TemporaryDirectory(prefix="chiltepin-")
            run_dir = Path(self._run_dir_owner.name)
        self.run_dir = run_dir
        self.endpoint_id = uuid.uuid4()
        self.rendered_config = render_for_options(site, self.options, f"site {site.name!r}")
        self._engine: GlobusComputeEngineBase | None = None
        self._recorded_jobs = 0
        self.serializer = ComputeSerializer()
        # Whether the workers can import chiltepin: they run in this process's environment
        # (a local provider, no ``worker_init``) and chiltepin is installed in it. Known
        # once started, so the first task does not pay for the check.
        self.workers_import_chiltepin = False
        self._lock = threading.Lock()

    @property
    def engine(self) -> GlobusComputeEngineBase:
        if self._engine is None:
            raise ChiltepinError("the embedded engine is not started (use start() or `with`)")
        return self._engine

    def start(self) -> EmbeddedEngine:
        """Build the engine from the rendered config and start its provider's first blocks."""
        with self._lock:
            if self._engine is not None:
                return self
            config = upstream.load_config_yaml(self.rendered_config)
            assert isinstance(config, upstream.UserEndpointConfig) and config.engine is not None
            if not self.site.engine_debug:  # workers would log every task (Parsl's INFO)
                log_warnings_only(config.engine)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            console_scripts_on_path()
            config.engine.start(endpoint_id=self.endpoint_id, run_dir=str(self.run_dir))
            self._engine = config.engine
            provider = config.engine.executor.provider
            self.workers_import_chiltepin = (
                isinstance(provider, LocalProvider)
                and not provider.worker_init.strip()
                and chiltepin_installed()
            )
            self._record_processes()
        return self

    def _record_processes(self) -> None:
        """Write the PIDs this engine started (interchange, local blocks) to the run dir.

        If this process is killed, they would run on; :func:`reap_leftovers` stops them
        by these PIDs (checked against their start times, so a reused PID is left alone).
        """
        jobs = provider_jobs(self.engine)
        self._recorded_jobs = len(jobs)
        records = []
        for pid in engine_process_ids(self.engine, jobs):
            start = processes.started(pid)
            if start is not None:
                records.append({"pid": pid, "started": start})
        (self.run_dir / PROCESS_RECORD).write_text(json.dumps(records))

    def serialize_call(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> str:
        """The task buffer the SDK and service build for a call: function, args, kwargs."""
        ser = self.serializer.serialize
        return self.serializer.pack_buffers([ser(fn), ser(args), ser(kwargs)])

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        resource_specification: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` on the engine; the future holds its return value or
        raises ``TaskExecutionFailed`` carrying the remote traceback."""
        return self.submit_call(self.serialize_call(fn, args, kwargs), resource_specification)

    def submit_call(
        self, task_buffer: str, resource_specification: dict[str, Any] | None = None
    ) -> Future[Any]:
        """Run a call serialised by :meth:`serialize_call`, as a new task.

        Callers that keep the buffer (for a size check, a journal, a retry) need not
        serialise again; each submission gets a task id of its own.
        """
        future = _CallFuture(self)
        packed = messagepack.pack(Task(task_id=future.gc_task_id, task_buffer=task_buffer))
        submit_packed(self.engine, future, packed, resource_specification or {})
        return future

    def record_new_blocks(self) -> None:
        """Re-record the processes if the provider started (or replaced) a block since they
        were last written: called as results come back, and by whoever watches the engine
        meanwhile (a block started for tasks that have not finished yet is recorded too)."""
        engine = self._engine
        if engine is not None and len(provider_jobs(engine)) != self._recorded_jobs:
            self._record_processes()

    def block_states(self) -> list[JobState]:
        """The state of each block the engine's executor started, as Parsl last polled
        them (its public ``status_facade``: a new block is pending until the next poll,
        every few seconds, says otherwise)."""
        return [status.state for status in self.engine.executor.status_facade.values()]

    def shutdown(self) -> None:
        """Stop the engine: scale in every block (cancelling its batch jobs) and stop the
        interchange, so no job or worker outlives this object."""
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.shutdown()
        if self._run_dir_owner is not None:
            self._run_dir_owner.cleanup()

    def __enter__(self) -> EmbeddedEngine:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
