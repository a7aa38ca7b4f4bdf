"""``Workflow``: the same sites as a Parsl configuration, for users who write DAGs.

Each site becomes Parsl executors labelled with the site's name: an endpoint site a
:class:`BatchingGlobusComputeExecutor` over an SDK ``Executor``; a local site the very
HTEX (or, for MPI tasks, MPI executor) that its rendered user endpoint config builds, so a
task sees the same workers either way. Task futures can be passed to other tasks as
inputs: Parsl's DataFlowKernel resolves the dependencies.

A call that names no site is placed the way ``Federation.submit`` places a task: as its
inputs resolve, the DAG's ready tasks flow to one more executor, a
:class:`~chiltepin.workflow.federated.FederationExecutor`, whose federation holds them and
releases each to the site expected to finish it first. Per-site executors then start
only for calls that name their site.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import parsl
from parsl.config import Config
from parsl.executors.base import ParslExecutor
from parsl.logconfigs.base import LogConfig

from chiltepin.client.burst import LINGER_S
from chiltepin.client.compute import BudgetedClient
from chiltepin.client.config import (
    ResolvedConfig,
    ResolvedSite,
    SiteKind,
    SitesArg,
    default_run_dir,
)
from chiltepin.client.resources import Resources, Routing, parse_resources, route
from chiltepin.embedded import console_scripts_on_path
from chiltepin.endpoints.render import render_for_options
from chiltepin.errors import ChiltepinError, did_you_mean
from chiltepin.federation import Federation
from chiltepin.upstream import config as upstream
from chiltepin.upstream.engine import engine_log_config
from chiltepin.workflow.batching import BatchingGlobusComputeExecutor
from chiltepin.workflow.federated import LABEL, FederationExecutor

_current: Workflow | None = None
_current_lock = threading.Lock()


def current() -> Workflow:
    """The workflow a task call belongs to (the innermost open ``with Workflow(...)``)."""
    if _current is None:
        raise ChiltepinError("task called outside a workflow: use `with chiltepin.Workflow(...):`")
    return _current


class Workflow:
    """A Parsl DataFlowKernel over the federation's sites.

    Open it with ``with Workflow(...):`` and call task-decorated functions inside; leaving
    the block waits for every task (unless the block raised) and shuts the sites down.
    Calls that name no site are placed by late binding across all sites; with
    ``default_site`` (or a single site) they go to that site instead. MPI calls that name
    no site go to ``default_site``, else the first site (they need its MPI executor).

    Args:
        sites: The sites to run on, in any form :class:`~chiltepin.federation.Federation`
            takes: the path of a sites file, a
            :class:`~chiltepin.client.config.FederationConfig`, a mapping of site name to
            entry, or ``None`` for one embedded local site (no Globus account needed).
        default_site: Where calls that name no site go, instead of being late-bound across
            all sites: for a DAG that should stay on one machine, or when every site but one
            is only there for calls that name it. Default: late binding when there is more
            than one site.
        run_dir: Where Parsl's run directory and the late-binding federation's journal go
            (``chiltepin report`` reads the latter). Default:
            ``~/.chiltepin/runs/<time>-<id>``. Parsl's logs there (``parsl.log``, each
            local site's interchange, managers and workers) hold warnings and errors
            only, or everything, every task included, when a site sets ``engine_debug``.
        client: A Globus Compute client to share with other runs in this process, so their
            requests all count against one rate budget (the service counts requests per
            client). Default: one made on first use from your ``chiltepin login``; only
            endpoint sites need it.
        linger_s: Seconds an endpoint site's executor waits for more ready tasks before
            handing them to the SDK. A DAG releases tasks one at a time as their inputs
            resolve; gathering them into full batches keeps the SDK's client-side rate
            limiter from stalling the run, at the cost of this much latency per batch.
    """

    def __init__(
        self,
        sites: SitesArg = None,
        *,
        default_site: str | None = None,
        run_dir: str | Path | None = None,
        client: BudgetedClient | None = None,
        linger_s: float = LINGER_S,
    ) -> None:
        self._config = ResolvedConfig.of(sites)  # its federation resolves nothing again
        self.sites = self._config.resolved
        self.late_binding = default_site is None and len(self.sites) > 1
        self.default_site = default_site or next(iter(self.sites))
        self.run_dir = Path(run_dir or default_run_dir()).expanduser()
        self._client = client
        self._linger_s = linger_s
        self._dfk: parsl.DataFlowKernel | None = None
        self.federation: Federation | None = None  # behind late binding, while open
        self._labels: dict[tuple[str, bool], str] = {}
        self._lock = threading.Lock()
        self.check_site(self.default_site)

    # -- executors ----------------------------------------------------------------------

    @property
    def client(self) -> BudgetedClient:
        """The Globus Compute client every endpoint site's executor submits through
        (the ``client`` argument, or one made on first use from your login)."""
        if self._client is None:
            from chiltepin import auth

            self._client = BudgetedClient(app=auth.globus_app())
        return self._client

    def _local_executor(self, site: ResolvedSite, label: str, mpi: bool) -> ParslExecutor:
        options = {**site.entry.options, **({"mpi": True} if mpi else {})}
        config = upstream.load_config_yaml(render_for_options(site.site, options, site.name))
        assert isinstance(config, upstream.UserEndpointConfig) and config.engine is not None
        executor = config.engine.executor
        executor.label = label
        return executor

    def _endpoint_executor(self, site: ResolvedSite, label: str) -> ParslExecutor:
        sdk = self.client.executor(
            site.entry.endpoint_id, user_endpoint_config=site.entry.options or None
        )
        return BatchingGlobusComputeExecutor(sdk, label=label, linger_s=self._linger_s)

    def _executor_for(self, name: str, mpi: bool) -> str:
        """The label of the executor serving ``name`` (MPI or not), created on first use."""
        site = self.sites[name]
        if site.kind is SiteKind.endpoint:
            mpi = False  # the endpoint starts an MPI engine from the task's options itself
        key = (name, mpi)
        with self._lock:
            if key not in self._labels:
                label = f"{name}-mpi" if mpi else name
                executor = (
                    self._endpoint_executor(site, label)
                    if site.kind is SiteKind.endpoint
                    else self._local_executor(site, label, mpi)
                )
                assert self._dfk is not None
                self._dfk.add_executors([executor])
                self._labels[key] = label
            return self._labels[key]

    def _federation(self) -> Federation:
        """The federation behind late binding, sharing this workflow's request budget."""
        endpoints = any(s.kind is SiteKind.endpoint for s in self.sites.values())
        return Federation(
            self._config,
            run_dir=self.run_dir / "federation",
            progress=False,
            client=self.client if endpoints else None,
        )

    # -- calls --------------------------------------------------------------------------

    def check_site(self, name: str) -> None:
        """Refuse a site name this workflow does not have, suggesting the closest one.

        Args:
            name: A site name as a task call gives it in ``site=``.

        Raises:
            ChiltepinError: ``name`` is not one of the workflow's sites.
        """
        if name not in self.sites:
            raise ChiltepinError(
                f"unknown site {name!r}{did_you_mean(name, self.sites)};"
                f" sites: {', '.join(self.sites)}"
            )

    def placement(
        self, site: str | None, resources: Resources | dict[str, Any] | None, mpi: bool
    ) -> tuple[str, dict[str, Any]]:
        """(executor label, parsl_resource_specification) for one call.

        Task calls ask this; it decides which Parsl executor runs the call and how its
        ``resources`` reach that executor, so the task decorators know nothing of sites.

        Args:
            site: The call's ``site=``; ``None`` lets the workflow place it (late binding,
                or ``default_site``).
            resources: The call's ``resources=``: a
                :class:`~chiltepin.client.resources.Resources` or its fields as a dict;
                translated into the chosen site's user endpoint options and resource
                specification.
            mpi: Whether the call is an ``mpi_task``: it then needs a site's MPI executor,
                so it is never late-bound.
        """
        parsed = parse_resources(resources)
        if site is None and self.late_binding and not (mpi or parsed.wants_mpi):
            return LABEL, parsed.requested  # the federation routes it per site
        name = site or self.default_site
        self.check_site(name)
        resolved = self.sites[name]
        if mpi and not parsed.wants_mpi:
            parsed = parsed.model_copy(update={"mpi": True})
        routing: Routing = route(parsed, resolved.site, resolved.entry.options)
        spec = dict(routing.resource_specification)
        if resolved.kind is SiteKind.endpoint and routing.options != resolved.entry.options:
            spec["user_endpoint_config"] = routing.options
        return self._executor_for(name, parsed.wants_mpi), spec

    # -- context ------------------------------------------------------------------------

    def __enter__(self) -> Workflow:
        global _current
        console_scripts_on_path()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._dfk = parsl.load(
            Config(
                executors=[],
                run_dir=str(self.run_dir / "parsl"),
                initialize_logging=self._log_config(),
            )
        )
        if self.late_binding:
            self.federation = self._federation()
            self._dfk.add_executors([FederationExecutor(self.federation)])
        else:
            for name in self.sites:  # start every site's (non-MPI) executor up front
                self._executor_for(name, mpi=False)
        with _current_lock:
            if _current is not None:
                raise ChiltepinError("a Workflow is already open; nest tasks in one workflow")
            _current = self
        return self

    def _log_config(self) -> LogConfig:
        """Warnings only, for ``parsl.log`` and every local site's interchange, managers
        and workers (the DataFlowKernel hands its log config to each executor); DEBUG, every
        task included, when any site asks for ``engine_debug``.

        Parsl's default writes ``parsl.log`` at DEBUG, several lines for every task, and its
        workers log each task they run: together more than the run's journal.
        """
        return engine_log_config(debug=any(s.site.engine_debug for s in self.sites.values()))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _current
        try:
            if self._dfk is not None:
                if exc_type is None:
                    self._dfk.wait_for_current_tasks()
                self._dfk.cleanup()
        finally:
            parsl.clear()
            self._dfk = None
            with _current_lock:
                _current = None
