"""Academy agents on embedded sites through the federation: real Academy, real Parsl
workers, Academy's HTTP exchange on loopback. An agent answers actions with its state kept
between them, holds one worker while tasks run beside it, and is journalled and reported;
a site the federation lacks and an agent that cannot be serialised are refused at launch."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from chiltepin.client.calls import NotSerializable
from chiltepin.errors import ChiltepinError
from chiltepin.federation import Federation
from chiltepin.federation.agents import FederatedAgents
from chiltepin.federation.journal import read_journal
from chiltepin.report.model import build_report
from tests.federation import tasks
from tests.federation.agent_classes import Counter, HoldsAConnection

FAST = ["tolerance.worker_heartbeat_period=1", "tolerance.worker_heartbeat_threshold=3"]
SITES = {
    name: {
        "kind": "local",
        "site": "localhost",
        "set": FAST,
        "options": {"max_workers_per_node": 2},
    }
    for name in ("a", "b")
}


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    with Federation(SITES, run_dir=tmp_path_factory.mktemp("run"), progress=False) as fed:
        yield fed


@pytest.mark.timeout(60)
def test_an_agent_answers_actions_beside_tasks_and_is_journalled(federation: Federation) -> None:
    async def converse() -> tuple[list[int], int, list[int], int]:
        async with FederatedAgents(federation) as agents:
            handle = await agents.launch(Counter, site="b", args=(100,))
            totals = [await handle.add(n) for n in range(1, 7)]
            pid = await handle.where()
            # the agent holds one of b's two workers; the other still takes tasks
            squares = [
                f.result(timeout=30)
                for f in [federation.submit(tasks.square, x, site="b") for x in range(4)]
            ]
            out = sum(n for state, n in federation.states().items() if state.live)
            return totals, pid, squares, out

    totals, pid, squares, out = asyncio.run(converse())
    assert totals == [101, 103, 106, 110, 115, 121]  # state kept across six actions
    assert pid != os.getpid()  # it ran on a worker, not in this process
    assert squares == [0, 1, 4, 9]
    assert out == 1  # while it lived, the agent was the one task out

    record = read_journal(federation.run_dir)
    [launched, ended] = record.agents
    assert (launched.state, launched.name, launched.site, launched.launch) == (
        "launched",
        "Counter",
        "b",
        1,
    )
    assert (ended.state, ended.agent, ended.task) == ("ended", launched.agent, launched.task)
    assert record.tasks[launched.task].attempts[-1].site == "b"
    assert record.tasks[launched.task].outcome is not None  # its worker was given back

    [row] = build_report(federation.run_dir).agents
    assert (row.name, row.site, row.ran_on, row.launches, row.state) == (
        "Counter",
        "b",
        "b",
        1,
        "ended",
    )


@pytest.mark.timeout(60)
def test_a_site_the_federation_lacks_is_refused_at_launch(federation: Federation) -> None:
    before = len(read_journal(federation.run_dir).tasks)

    async def launch() -> None:
        async with FederatedAgents(federation) as agents:
            await agents.launch(Counter, site="nowhere")

    with pytest.raises(ChiltepinError, match="unknown site 'nowhere'"):
        asyncio.run(launch())
    assert len(read_journal(federation.run_dir).tasks) == before  # nothing was sent


@pytest.mark.timeout(60)
def test_an_agent_that_cannot_be_serialised_is_refused_at_launch(federation: Federation) -> None:
    before = len(read_journal(federation.run_dir).tasks)

    async def launch() -> None:
        async with FederatedAgents(federation) as agents:
            await agents.launch(HoldsAConnection(), site="a")

    with pytest.raises(
        NotSerializable, match=r"agent HoldsAConnection .*cannot be serialised.*sqlite3.Connection"
    ):
        asyncio.run(launch())
    assert len(read_journal(federation.run_dir).tasks) == before
