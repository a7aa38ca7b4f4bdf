"""Version pre-flight: does a site's worker environment read what this client serialises?

A function travels to a Globus Compute worker as a dill pickle of its code, and code
pickles are tied to the Python minor version (bytecode) and, in practice, to the dill
version that wrote them. When the client and the workers differ, tasks fail late and
obscurely (deserialisation errors, ``WorkerLost``); the SDK only warns after the fact.
So before a site gets its first task for a routing, the federation asks its workers for
their versions and compares them with its own:

- the ask is :func:`globus_compute_sdk.sdk.utils.get_env_details`, which every worker has
  installed: it is pickled by reference (a module and a name), which any Python and dill
  read, and it returns the same environment report the service shows in a task's
  ``details`` (``python_version``, ``dill_version``, ``globus_compute_sdk_version``;
  Globus's ``compute.v2.get_task`` example);
- a different Python minor or dill takes the site out of placement, with a message naming
  both versions and the fix, unless the run sends functions as source
  (``functions_as_source``: ``AllCodeStrategies``), which any of them can rebuild;
- the endpoint's status may also carry, per manager, ``python_version``, ``sdk_version``
  and ``endpoint_version`` (``node_info``, from ``GlobusComputeEngine.get_status_report``);
  no Globus example shows the service relays it, so it is shown, never relied on.

:class:`Preflight` is that ask and its verdict for one site, one routing at a time; the
endpoint backend (:mod:`chiltepin.federation.backends.endpoint`) holds one and applies
its verdict (a mismatch takes the site out for the run).
"""

from __future__ import annotations

import functools
import logging
import platform
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

import dill
import globus_compute_sdk
from globus_compute_sdk import Executor
from globus_compute_sdk.sdk.utils import get_env_details

from chiltepin.federation.functions import FunctionRegistry

log = logging.getLogger(__name__)

VERSION_PROBE = get_env_details
"""What a site's workers run to say their versions (by reference: readable anywhere)."""


@dataclass(frozen=True)
class Versions:
    """The software that (de)serialises tasks in one place: the client, or a site's workers."""

    python: str | None
    dill: str | None
    sdk: str | None
    endpoint: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def client_versions() -> Versions:
    """This process's versions (read once: each endpoint site of each run compares them,
    and the installed endpoint's version is a package-metadata lookup)."""
    return Versions(
        python=platform.python_version(),
        dill=dill.__version__,
        sdk=globus_compute_sdk.__version__,
        endpoint=_installed("globus-compute-endpoint"),
    )


def versions_of_report(report: dict[str, Any]) -> Versions:
    """Versions from a worker's environment report (``get_env_details``, or a task's
    ``details`` as the service returns them)."""
    return Versions(
        python=report.get("python_version"),
        dill=report.get("dill_version"),
        sdk=report.get("globus_compute_sdk_version"),
    )


def managers_of_status(details: dict[str, Any]) -> list[dict[str, Any]]:
    """Per manager (node), the versions an endpoint's engine reported in its status
    (``node_info``: batch job id → manager infos); empty when the status does not say."""
    node_info = details.get("node_info")
    if not isinstance(node_info, dict):
        return []
    keys = ("python_version", "sdk_version", "endpoint_version", "parsl_version", "worker_count")
    return [
        {"job": str(job), **{k: m.get(k) for k in keys}}
        for job, managers in node_info.items()
        if isinstance(managers, list)
        for m in managers
        if isinstance(m, dict)
    ]


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def mismatch(site: str, client: Versions, workers: Versions) -> str | None:
    """Why functions serialised here cannot run on ``site``'s workers, with the fix;
    ``None`` when Python minor and dill agree (or a worker does not say)."""
    found = []
    if client.python and workers.python and _minor(client.python) != _minor(workers.python):
        found.append(f"Python {workers.python} on its workers, {client.python} here")
    if client.dill and workers.dill and client.dill != workers.dill:
        found.append(f"dill {workers.dill} on its workers, {client.dill} here")
    if not found:
        return None
    want = f"Python {_minor(client.python or '')} and dill {client.dill}"
    return (
        f"site {site!r} cannot run functions serialised here ({'; '.join(found)}): give it a"
        f" worker_init that activates an environment with {want} (site file key worker_init,"
        " e.g. 'source /path/to/env/bin/activate'), or run with functions_as_source=True so"
        " functions travel as source (AllCodeStrategies)"
    )


class Preflight:
    """One site's pre-flight: per routing, its workers asked once, and the verdict.

    ``on_verdict(versions, mismatch)`` hears what the workers said (``versions``: client's
    and workers', for the journal and report) and, when they cannot read this client's
    functions and the run does not send them as source, why (``mismatch``; else None).
    """

    def __init__(
        self,
        site: str,
        functions: FunctionRegistry,
        client_versions: Versions | None,
        *,
        as_source: bool,
        on_verdict: Callable[[dict[str, Any], str | None], None],
    ) -> None:
        self.site = site
        self._functions = functions
        self._client_versions = client_versions
        self._as_source = as_source
        self._on_verdict = on_verdict
        # Per routing, the pre-flight's answer (a future) once its workers were asked.
        self._verdicts: dict[tuple[str, str], Future[Any]] = {}

    def asked(self, key: tuple[str, str]) -> bool:
        return key in self._verdicts

    def ask(self, key: tuple[str, str], executor: Callable[[], Executor]) -> None:
        """Ask the workers of routing ``key`` for their versions, in the same burst as its
        first tasks (that task starts the user endpoint they need anyway).

        The first tasks are not held back for the answer: waiting would leave the site's
        provider one task to scale blocks by, and send the tasks in a second request (a
        second start command, which the endpoint may take, near its idle exit, as a
        reason to start the user endpoint again). Their outcomes wait for the answer
        instead (:meth:`then`)."""
        verdict: Future[Any] = Future()
        self._verdicts[key] = verdict
        if self._client_versions is None:
            verdict.set_result(None)
            return
        try:
            function_id = self._functions.uuid_for(VERSION_PROBE)
            probe = executor().submit_to_registered_function(function_id)
        except Exception as err:  # the site may refuse it (an allow-list): tasks still go
            log.warning("site %s did not say its workers' versions: %s", self.site, err)
            verdict.set_result(None)
            return
        probe.add_done_callback(lambda answer: self._judge(answer, verdict))

    def then(self, key: tuple[str, str], callback: Callable[[], None]) -> None:
        """Call ``callback`` once routing ``key``'s verdict is in (at once if it is)."""
        self._verdicts[key].add_done_callback(lambda _: callback())

    def _judge(self, answer: Future[Any], verdict: Future[Any]) -> None:
        """Compare the workers' versions with this client's; a mismatch takes the site
        out (unless functions travel as source)."""
        try:
            workers = versions_of_report(answer.result())
        except CancelledError:  # the run ended before any worker there started
            verdict.set_result(None)
            return
        except Exception as err:
            log.warning("site %s did not say its workers' versions: %r", self.site, err)
            verdict.set_result(None)
            return
        assert self._client_versions is not None
        problem = mismatch(self.site, self._client_versions, workers)
        versions = {
            "client": self._client_versions.as_dict(),
            "workers": workers.as_dict(),
            "mismatch": problem,
            "functions_as_source": self._as_source,
        }
        if problem and not self._as_source:
            log.error("%s", problem)
        elif problem:
            log.warning("%s; its functions travel as source", problem)
        self._on_verdict(versions, None if self._as_source else problem)
        verdict.set_result(None)
