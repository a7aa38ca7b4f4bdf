"""Agents: an Academy action's round trip through chiltepin against Academy's own Manager.

One Academy exchange (chiltepin's loopback HTTP exchange) serves both. The candidate is an
agent launched by :class:`~chiltepin.federation.agents.FederatedAgents` on an embedded
local site (a Parsl worker of the federation); the baseline is the same agent launched by
Academy's ``Manager`` on a local process pool, in the same run. Each answers a warm-up and
then ``ACTIONS`` actions one after another, each launched afresh in each of ``ROUNDS``
alternating rounds; the figures are the medians over the rounds of the p50 and p95 of the
candidate's round trips over the baseline's in that round (target: within 1.2x: the
agent's messages take the same path through the exchange either way; only where the agent
runs differs).

Relaunch after a site is lost (against the worker heartbeat threshold, the detection
floor; target within 3x, as for tasks' failover): an agent on one of two embedded sites,
with the other as its fallback, answers an action; its site's workers are SIGKILLed and
the next action is sent as soon as they are gone. Measured: seconds from the kill until
that action is answered by the new instance on the fallback site (whose engine is already
up). Neither the engine nor the federation reruns the lost launch on its own site first,
so the figure is the loss's detection plus one launch.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import statistics
import tempfile
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from academy.agent import Agent, action
from academy.handle import Handle
from academy.manager import Manager

from benchmarks.figures import Figure, Rounds, paired
from chiltepin.federation import Federation
from chiltepin.federation.agent_exchange import LoopbackExchange
from chiltepin.federation.agents import FederatedAgents
from chiltepin.federation.backends.local import LocalBackend
from chiltepin.system import processes

ACTIONS = 200
WARMUP = 10
ROUNDS = 3
THRESHOLD_S = 3  # the worker heartbeat threshold a relaunch is measured against
TOLERANCE = [
    "tolerance.worker_heartbeat_period=1",
    f"tolerance.worker_heartbeat_threshold={THRESHOLD_S}",
]


def _site(*settings: str) -> dict[str, object]:
    return {
        "kind": "local",
        "site": "localhost",
        "set": [*TOLERANCE, *settings],
        "options": {"max_workers_per_node": 2},
    }


SITES = {"local": _site()}
#: The relaunch's two sites: a lost launch is not rerun where it was (no engine reruns).
DOOMED, SURVIVOR = "doomed", "survivor"
FAILOVER_SITES = {
    name: _site("tolerance.max_retries_on_system_failure=0") for name in (DOOMED, SURVIVOR)
}


class Echo(Agent):
    """Answers at once: what is measured is the trip, not the work."""

    @action
    async def echo(self, n: int) -> int:
        return n


async def _round_trips(handle: Handle[Echo]) -> list[float]:
    """Seconds of each of ``ACTIONS`` actions in turn, after ``WARMUP`` unmeasured ones."""
    for n in range(WARMUP):
        assert await handle.echo(n) == n
    seconds = []
    for n in range(ACTIONS):
        started = time.perf_counter()
        answer = await handle.echo(n)
        seconds.append(time.perf_counter() - started)
        assert answer == n, f"action {n} answered {answer}: a request lost or crossed"
    return seconds


async def _through_chiltepin(federation: Federation, exchange: LoopbackExchange) -> list[float]:
    async with FederatedAgents(federation, exchange.factory()) as agents:
        return await _round_trips(await agents.launch(Echo, site="local"))


async def _through_academy(exchange: LoopbackExchange) -> list[float]:
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    manager = await Manager.from_exchange_factory(exchange.factory(), pool)
    async with manager:  # shuts its agents down, then the pool
        return await _round_trips(await manager.launch(Echo))


def nothing() -> None:
    """A task that starts an engine."""


async def _relaunch(federation: Federation, exchange: LoopbackExchange) -> float:
    """Seconds from killing the agent's site's workers to its next action answered from
    its fallback site."""
    doomed = federation.placement.backends[DOOMED]
    assert isinstance(doomed, LocalBackend)
    async with FederatedAgents(federation, exchange.factory()) as agents:
        handle = await agents.launch(Echo, site=DOOMED, fallback=(SURVIVOR,))
        assert await handle.echo(1) == 1
        killed_at = time.monotonic()
        workers = processes.group_members(doomed.worker_groups())
        processes.signal_pids(workers, signal.SIGKILL)
        assert not processes.wait_gone(workers, 30)  # sent while it dies, it is in flight
        answer = await asyncio.wait_for(handle.echo(2), timeout=120)
        seconds = time.monotonic() - killed_at
    assert answer == 2, f"the action after the loss answered {answer}"
    return seconds


def _quantile(seconds: list[float], q: int) -> float:
    """The ``q``-th percentile (1-99)."""
    return statistics.quantiles(seconds, n=100)[q - 1]


def run(rounds: int = ROUNDS) -> list[Figure]:
    trips: dict[str, list[list[float]]] = {"chiltepin": [], "academy": []}
    with (
        tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp,
        Federation(SITES, run_dir=Path(tmp), progress=False) as federation,
        LoopbackExchange() as exchange,
    ):
        ways: dict[str, Callable[[], Coroutine[Any, Any, list[float]]]] = {
            "chiltepin": lambda: _through_chiltepin(federation, exchange),
            "academy": lambda: _through_academy(exchange),
        }

        def take(way: str) -> Callable[[], float]:
            def once() -> float:
                trips[way].append(asyncio.run(ways[way]()))
                return _quantile(trips[way][-1], 50)

            return once

        Rounds(rounds, {way: take(way) for way in ways})
    figures = []
    for q in (50, 95):
        figure = paired(
            f"agents: action round trip p{q} through chiltepin (vs Academy's Manager on a local"
            " process pool, same exchange)",
            [_quantile(seconds, q) for seconds in trips["chiltepin"]],
            [_quantile(seconds, q) for seconds in trips["academy"]],
            "s",
            1.2,
            higher=False,
        )
        note = f"{ACTIONS} actions each round, in turn, after {WARMUP} unmeasured; none lost"
        figures.append(replace(figure, note=f"{figure.note}; {note}"))
    with (
        tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp,
        Federation(FAILOVER_SITES, run_dir=Path(tmp), progress=False, retries=0) as federation,
        LoopbackExchange() as exchange,
    ):
        federation.submit(nothing, site=SURVIVOR).result(timeout=120)  # its engine up
        relaunch = asyncio.run(_relaunch(federation, exchange))
    figures.append(
        Figure(
            "agents: relaunch on another site after its site is lost (vs heartbeat threshold)",
            relaunch,
            float(THRESHOLD_S),
            "s",
            3.0,
            higher=False,
            absolute=True,
            note="kill of its site's workers to the next action answered from the fallback",
        )
    )
    return figures
