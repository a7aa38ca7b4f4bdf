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

A launch may name fallback sites (``launch(agent, site="a", fallback=("b",))``). Each
launch is still pinned to one site (an unpinned agent could be raced onto a second site by
late binding: two instances on one mailbox), and the executor starts the next launch only
once the last one's task has ended, so the agent never runs on two sites at once. A launch
whose *site* was lost moves on: the federation gave up on that site for its task
(``TaskLost``, after the federation's ``retries`` on that site, as for any pinned task) or
the site is unhealthy (``NoSiteAvailable``: an endpoint stopped or lost). The next launch
goes to the next fallback site that is healthy now, journalled as a new ``launched`` line
with its site; its mailbox is the same, so the caller's handle reaches the new instance. A
launch that failed for the agent's own code (its exception) does not move: that is
Academy's ``max_restarts``, on the site it is on. An agent that subclasses
:class:`~chiltepin.federation.agent_checkpoint.Checkpointed` saves its state to the run
directory after each action and restores it as each launch starts
(:mod:`chiltepin.federation.agent_checkpoint`).

Not wired yet (docs: README "Agents"): a block nearing walltime does not move its agent
(only a lost site does); an action in flight when its site is lost is not delivered again
(its caller waits on); checkpoints reach only workers that share the client's file system
(embedded sites), and are not journalled; ``run resume`` does not find agents again;
Redis for agents on endpoints is the user's own ``exchange=``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from academy.agent import Agent
from academy.exchange import ExchangeFactory
from academy.handle import Handle
from academy.manager import Manager
from academy.runtime import RuntimeConfig
from redis.exceptions import ConnectionError as RedisConnectionError

from chiltepin.client.calls import serialize
from chiltepin.client.resources import Resources, parse_resources
from chiltepin.errors import ChiltepinError
from chiltepin.federation.agent_checkpoint import Checkpointed, run_with_checkpoints
from chiltepin.federation.agent_exchange import LoopbackExchange
from chiltepin.federation.failures import TaskLost
from chiltepin.federation.journal_format import AgentEvent, AgentState
from chiltepin.federation.placement import NoSiteAvailable, max_walltime, walltime_fits
from chiltepin.federation.staging_events import first_line
from chiltepin.sites.model import Scheduler

if TYPE_CHECKING:
    from chiltepin.federation.executor import Federation

AgentT = TypeVar("AgentT", bound=Agent)
log = logging.getLogger(__name__)

EXECUTOR = "federation"  # the name the manager knows the federation by
#: The submit_kwargs this module adds: Academy's agent id, the agent's class name, its
#: sites in order with what each launch there asks (a walltime on a batch site), and its
#: checkpoint file (None for an agent that keeps none).
_AGENT, _NAME, _SITES, _CHECKPOINT = (
    "chiltepin_agent",
    "chiltepin_agent_name",
    "chiltepin_agent_sites",
    "chiltepin_agent_checkpoint",
)
#: What an exchange that is down raises as a client connects: aiohttp's errors (the HTTP
#: exchanges) are OSErrors; redis's own ConnectionError is not.
UNREACHABLE = (OSError, RedisConnectionError)
#: How a pinned task's future says its site was lost, not its code: the federation gave up
#: on the site after its retries there, or the site was unhealthy when the task came.
SITE_LOST = (TaskLost, NoSiteAvailable)

Sites = tuple[tuple[str, Resources | None], ...]


@dataclass(frozen=True)
class _Agent:
    """One agent as its executor sees it: Academy's id, its class name, its sites."""

    id: str
    name: str
    sites: Sites

    def after(self, site: str) -> list[str]:
        """The agent's sites after ``site``, in order: where a launch lost with it goes."""
        names = [name for name, _ in self.sites]
        return names[names.index(site) + 1 :]


class _AgentExecutor(Executor):
    """What Academy's manager submits each launch of an agent to: the federation, pinned to
    one site, each launch and its end journalled. A launch whose site is lost is followed,
    once its task has ended, by one on the next of the agent's sites that is healthy; the
    manager sees one launch until the last of them ends. Its shutdown leaves the federation
    running: the federation belongs to whoever made it."""

    def __init__(self, federation: Federation) -> None:
        self._federation = federation
        self._launches: dict[str, int] = {}
        self._current: dict[str, str] = {}  # the site of each agent's latest launch
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        agent = _Agent(str(kwargs.pop(_AGENT)), str(kwargs.pop(_NAME)), kwargs.pop(_SITES))
        checkpoint = kwargs.pop(_CHECKPOINT)
        if checkpoint is not None:
            fn, args = run_with_checkpoints, (checkpoint, fn, *args)
        outcome: Future[Any] = Future()
        # Academy's restart after the agent's own failure goes where its last launch went
        site = self._current.get(agent.id, agent.sites[0][0])
        self._launch(agent, site, outcome, partial(fn, *args, **kwargs))
        return outcome

    def _launch(self, agent: _Agent, site: str, outcome: Future[Any], call: partial[Any]) -> None:
        with self._lock:
            launch = self._launches[agent.id] = self._launches.get(agent.id, 0) + 1
            self._current[agent.id] = site
        resources = dict(agent.sites)[site]
        future = self._federation.submit(
            call.func, *call.args, site=site, resources=resources, **call.keywords
        )
        journal, task = self._federation.journal, future.task_id
        journal.agent(AgentEvent(time.time(), agent.id, agent.name, "launched", launch, task, site))

        def ended(done: Future[Any]) -> None:
            error = None if done.cancelled() else done.exception()
            reason = None if error is None else first_line(str(error)) or type(error).__name__
            state: AgentState = "failed" if error is not None or done.cancelled() else "ended"
            event = AgentEvent(time.time(), agent.id, agent.name, state, launch, task, site, reason)
            journal.agent(event)
            if done.cancelled():
                outcome.cancel()
            elif error is None:
                outcome.set_result(done.result())
            elif (to := self._next_site(agent, site, error)) is None:
                outcome.set_exception(error)
            else:  # not from this callback: it runs under the ended task's lock
                threading.Thread(
                    target=self._relaunch,
                    args=(agent, to, outcome, call),
                    name=f"chiltepin-agent-{agent.name}-relaunch",
                    daemon=True,
                ).start()

        future.add_done_callback(ended)

    def _next_site(self, agent: _Agent, site: str, error: BaseException) -> str | None:
        """Where a launch that ended with ``error`` on ``site`` goes next: for a lost
        site, the next of the agent's sites that is healthy now; else nowhere."""
        if not isinstance(error, SITE_LOST):
            return None
        backends = self._federation.placement.backends
        return next((name for name in agent.after(site) if backends[name].healthy), None)

    def _relaunch(self, agent: _Agent, site: str, outcome: Future[Any], call: partial[Any]) -> None:
        log.info("agent %s (%s): its site was lost; launching it on %s", agent.name, agent.id, site)
        try:
            self._launch(agent, site, outcome, call)
        except Exception as error:  # e.g. the federation shut down meanwhile
            outcome.set_exception(error)

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
            for its own code, on the site it is on (each launch journalled with its
            number). A launch lost with its site moves to a fallback site without
            counting here (:meth:`launch`).
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
        fallback: Sequence[str] = (),
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        name: str | None = None,
        config: RuntimeConfig | None = None,
        lifetime: str | None = None,
    ) -> Handle[AgentT]:
        """Launch ``agent`` (a class, built on the worker with ``args`` and ``kwargs``, or
        an instance) on ``site``, where it holds one worker until it shuts down.

        Args:
            fallback: sites to launch it on, in this order, when the site it runs on is
                lost (the next one healthy at the time); each is checked here as ``site``
                is. Why a separate list rather than ``site`` taking several: ``site`` is
                where it runs, as for ``Federation.submit``; ``fallback`` is an order to
                move in, one site at a time, not a set placement may pick from.
            lifetime: how long the agent is meant to live (``HH:MM:SS``). On a site
                whose workers run in batch jobs, the job that holds the agent's worker is
                asked for that walltime; a site whose limits do not let a job last that
                long (``limits.max_walltime``) is refused here.

        Returns:
            Academy's ``Handle``: ``await handle.some_action(...)``.

        Raises:
            ChiltepinError: before anything is registered or sent, for a site the
                federation does not have (or one named twice), a lifetime that is no
                ``HH:MM:SS`` or that a site cannot hold, or an agent (or its arguments)
                that cannot be serialised to a worker.
        """
        manager = self.manager
        agent_type = agent if isinstance(agent, type) else type(agent)
        order = (site, *fallback)
        if len(set(order)) < len(order):
            raise ChiltepinError(
                f"agent {agent_type.__name__}: site {site!r} and fallback {list(fallback)}"
                " name a site twice; each site is tried once, in order"
            )
        asked = parse_resources(None if lifetime is None else {"walltime": lifetime})
        # no batch job, no walltime to ask for
        sites = tuple(
            (s, asked if self._check_site(s, agent_type.__name__, asked.walltime) else None)
            for s in order
        )
        serialize((agent, args, kwargs or {}), f"agent {agent_type.__name__} with its arguments")
        registration = await manager.register_agent(agent_type, name=name)
        agent_id = str(registration.agent_id.uid)  # whole: the name Academy prints is cut short
        checkpoint = (
            str(self._federation.run_dir / "agents" / f"{agent_id}.checkpoint")
            if issubclass(agent_type, Checkpointed)
            else None
        )
        extra = {
            _AGENT: agent_id,
            _NAME: agent_type.__name__,
            _SITES: sites,
            _CHECKPOINT: checkpoint,
        }
        return await manager.launch(
            agent,
            args=args,
            kwargs=kwargs,
            config=config,
            registration=registration,
            submit_kwargs=extra,
        )
