"""Academy agents on the federation: launched through late binding, journalled.

An Academy agent (``academy.agent.Agent``: ``@action`` methods a caller invokes through a
``Handle``, ``@loop`` methods that run on their own) runs on a worker for its whole life,
exchanging messages through an Academy exchange. :class:`FederatedAgents` is Academy's own
``Manager`` with the federation as its executor, so everything Academy offers on a handle
(actions, ping, shutdown, agents calling agents) works unchanged, and everything the
federation offers a task applies to the agent: it is one federation task that holds one
worker for its lifetime, so late binding's window counts it and never hands that worker a
task, and the site it runs on is in the journal and the report.

Why a ``Manager`` wrapped rather than ``Manager(executors=federation)`` alone: that works
too, but the manager shuts down its executors when it closes (here: the user's federation),
a bad agent or site would surface only later in a background task instead of at
``launch``, and nothing would journal the agent. Here an exchange that is down is refused
as :class:`FederatedAgents` opens, :meth:`FederatedAgents.launch` checks the site, that it
can hold the agent's declared lifetime, and that the agent can be serialised before
anything is registered or sent, and a small executor in front of the federation writes
each launch and its end as :class:`~chiltepin.federation.journal_format.AgentEvent` lines.

Not wired yet (docs: README "Agents"): an agent is pinned to a site (an unpinned one could
be raced onto a second site by late binding, two instances on one mailbox); no relaunch on
another site when its site is lost, no checkpoint of its state, and ``run resume`` does not
find agents again; Redis for agents on endpoints is the user's own ``exchange=``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from academy.agent import Agent
from academy.exchange import ExchangeFactory
from academy.handle import Handle
from academy.manager import Manager
from academy.runtime import RuntimeConfig
from redis.exceptions import ConnectionError as RedisConnectionError

from chiltepin.client.calls import serialize
from chiltepin.client.resources import parse_resources
from chiltepin.errors import ChiltepinError
from chiltepin.federation.agent_exchange import LoopbackExchange
from chiltepin.federation.journal_format import AgentEvent, AgentState
from chiltepin.federation.placement import max_walltime, walltime_fits
from chiltepin.federation.staging_events import first_line
from chiltepin.sites.model import Scheduler

if TYPE_CHECKING:
    from chiltepin.federation.executor import Federation

AgentT = TypeVar("AgentT", bound=Agent)

EXECUTOR = "federation"  # the name the manager knows the federation by
_AGENT, _NAME = "chiltepin_agent", "chiltepin_agent_name"  # submit_kwargs this module adds
#: What an exchange that is down raises as a client connects: aiohttp's errors (the HTTP
#: exchanges) are OSErrors; redis's own ConnectionError is not.
UNREACHABLE = (OSError, RedisConnectionError)


class _AgentExecutor(Executor):
    """What Academy's manager submits each launch of an agent to: the federation, on the
    site the launch names, each launch and its end journalled. Its shutdown leaves the
    federation running: the federation belongs to whoever made it."""

    def __init__(self, federation: Federation) -> None:
        self._federation = federation
        self._launches: dict[str, int] = {}
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        agent, name, site = str(kwargs.pop(_AGENT)), str(kwargs.pop(_NAME)), kwargs.pop("site")
        with self._lock:
            launch = self._launches[agent] = self._launches.get(agent, 0) + 1
        future = self._federation.submit(fn, *args, site=site, **kwargs)
        journal, task = self._federation.journal, future.task_id
        journal.agent(AgentEvent(time.time(), agent, name, "launched", launch, task, site))

        def ended(done: Future[Any]) -> None:
            error = None if done.cancelled() else done.exception()
            reason = None if error is None else first_line(str(error)) or type(error).__name__
            state: AgentState = "failed" if error is not None or done.cancelled() else "ended"
            journal.agent(AgentEvent(time.time(), agent, name, state, launch, task, site, reason))

        future.add_done_callback(ended)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to stop: the manager's agents have ended by now, the federation is not
        this executor's to shut down."""


class FederatedAgents:
    """Launch Academy agents on a :class:`~chiltepin.federation.Federation`'s sites.

    Use it as an async context manager; on exit every agent it launched is asked to shut
    down and awaited, and the exchange it started (if any) is stopped. The federation stays
    open. ``manager`` is the Academy ``Manager`` underneath, for the rest of Academy's API.

    Args:
        federation: the federation whose sites run the agents.
        exchange: the Academy exchange the agents' mailboxes live in; default a
            :class:`~chiltepin.federation.agent_exchange.LoopbackExchange` on this machine,
            which serves embedded (``local``) sites. Agents on endpoints elsewhere need one
            their workers can reach: ``academy.exchange.RedisExchangeFactory(host, port)``
            or Academy's hosted ``HttpExchangeFactory`` (Globus login).
        max_restarts: how many times Academy launches an agent again after it fails
            (each launch journalled with its number).
    """

    def __init__(
        self,
        federation: Federation,
        exchange: ExchangeFactory[Any] | None = None,
        *,
        max_restarts: int = 0,
    ) -> None:
        self._federation = federation
        self._exchange = exchange
        self._max_restarts = max_restarts
        self._loopback: LoopbackExchange | None = None
        self._manager: Manager[Any] | None = None

    @property
    def manager(self) -> Manager[Any]:
        if self._manager is None:
            raise RuntimeError("FederatedAgents is used as `async with FederatedAgents(...)`")
        return self._manager

    async def __aenter__(self) -> FederatedAgents:
        factory = self._exchange
        if factory is None:
            self._loopback = LoopbackExchange().start()
            factory = self._loopback.factory()
        try:
            manager = await Manager.from_exchange_factory(
                factory,
                {EXECUTOR: _AgentExecutor(self._federation)},
                default_executor=EXECUTOR,
                max_retries=self._max_restarts,
            )
            self._manager = await manager.__aenter__()
        except UNREACHABLE as error:
            self._stop_loopback()
            reason = first_line(str(error)) or type(error).__name__
            raise ChiltepinError(
                f"the agents' exchange ({type(factory).__name__}) cannot be reached: {reason};"
                " start it first (Redis: `redis-server --bind 127.0.0.1 --port PORT`) or pass"
                " one that is up"
            ) from error
        except BaseException:
            self._stop_loopback()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.manager.__aexit__(exc_type, exc, tb)
        finally:
            self._manager = None
            self._stop_loopback()

    def _stop_loopback(self) -> None:
        if self._loopback is not None:
            self._loopback.close()
            self._loopback = None

    def _check_site(self, site: str, agent: str, lifetime: str | None) -> bool:
        """Refuse a site the federation lacks, or one whose batch jobs end before the
        agent's declared lifetime does (it would be killed by walltime, not by its end).
        Whether the site runs its workers in batch jobs (whose walltime the lifetime asks
        for); a site that does not still keeps to its ``limits``."""
        placement = self._federation.placement
        placement.check_request(site, frozenset())
        backend = placement.backends[site]
        if not walltime_fits(backend, lifetime):
            raise ChiltepinError(
                f"agent {agent}'s lifetime {lifetime} is longer than site {site!r} lets a batch"
                f" job run (limits.max_walltime {max_walltime(backend)}); declare a shorter"
                " lifetime or launch it on a site that allows one that long"
            )
        return backend.resolved.site.scheduler is not Scheduler.local

    async def launch(
        self,
        agent: AgentT | type[AgentT],
        *,
        site: str,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        name: str | None = None,
        config: RuntimeConfig | None = None,
        lifetime: str | None = None,
    ) -> Handle[AgentT]:
        """Launch ``agent`` (a class, built on the worker with ``args`` and ``kwargs``, or
        an instance) on ``site``, where it holds one worker until it shuts down.

        Args:
            lifetime: how long the agent is meant to live (``HH:MM:SS``). On a site
                whose workers run in batch jobs, the job that holds the agent's worker is
                asked for that walltime; a site whose limits do not let a job last that
                long (``limits.max_walltime``) is refused here.

        Returns:
            Academy's ``Handle``: ``await handle.some_action(...)``.

        Raises:
            ChiltepinError: before anything is registered or sent, for a site the
                federation does not have, a lifetime that is no ``HH:MM:SS`` or that the
                site cannot hold, or an agent (or its arguments) that cannot be
                serialised to a worker.
        """
        manager = self.manager
        agent_type = agent if isinstance(agent, type) else type(agent)
        asked = parse_resources(None if lifetime is None else {"walltime": lifetime})
        batch = self._check_site(site, agent_type.__name__, asked.walltime)
        resources = asked if batch else None  # no batch job, no walltime to ask for
        serialize((agent, args, kwargs or {}), f"agent {agent_type.__name__} with its arguments")
        registration = await manager.register_agent(agent_type, name=name)
        agent_id = str(registration.agent_id.uid)  # whole: the name Academy prints is cut short
        extra = {"site": site, "resources": resources, _AGENT: agent_id, _NAME: agent_type.__name__}
        return await manager.launch(
            agent,
            args=args,
            kwargs=kwargs,
            config=config,
            registration=registration,
            submit_kwargs=extra,
        )
