"""Academy agents on embedded sites through the federation: real Academy, real Parsl
workers, Academy's HTTP exchange on loopback. An agent answers actions with its state kept
between them, holds one worker while tasks run beside it, and is journalled and reported;
a site the federation lacks, a lifetime longer than the site's batch jobs may run, an agent
that cannot be serialised and an exchange that is down are refused at launch. An agent
whose site is lost (its workers killed) answers its next action from its fallback site,
with the state of its last checkpoint."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from academy.exchange import RedisExchangeFactory
from globus_compute_sdk.errors import TaskExecutionFailed

from chiltepin.client.calls import NotSerializable
from chiltepin.errors import ChiltepinError
from chiltepin.federation import Federation
from chiltepin.federation.agents import FederatedAgents
from chiltepin.federation.backends.local import LocalBackend
from chiltepin.federation.journal import read_journal
from chiltepin.report.model import build_report
from chiltepin.system import processes
from chiltepin.system.waiting import wait_until
from tests.federation import tasks
from tests.federation.agent_classes import Counter, FailsAtStart, HoldsAConnection, KeptCounter

FAST = ["tolerance.worker_heartbeat_period=1", "tolerance.worker_heartbeat_threshold=3"]
SITES = {
    name: {
        "kind": "local",
        "site": "localhost",
        "set": [*FAST, f"limits.max_walltime={longest}"],
        "options": {"max_workers_per_node": 2},
    }
    for name, longest in (("a", "01:00:00"), ("b", "08:00:00"))
}


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    with Federation(SITES, run_dir=tmp_path_factory.mktemp("run"), progress=False) as fed:
        yield fed


@pytest.mark.timeout(60)
def test_an_agent_answers_actions_beside_tasks_and_is_journalled(federation: Federation) -> None:
    async def converse() -> tuple[list[int], int, list[int], int]:
        async with FederatedAgents(federation) as agents:
            handle = await agents.launch(Counter, site="b", args=(100,), lifetime="02:00:00")
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
    # its lifetime fits b's limits; b runs no batch jobs, so no walltime is asked of it
    assert record.tasks[launched.task].options.resources == {}
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


@pytest.mark.timeout(60)
def test_a_lifetime_the_site_cannot_hold_is_refused_at_launch(federation: Federation) -> None:
    before = len(read_journal(federation.run_dir).tasks)

    async def launch() -> None:
        async with FederatedAgents(federation) as agents:
            await agents.launch(Counter, site="a", lifetime="02:00:00")

    with pytest.raises(
        ChiltepinError,
        match=r"agent Counter's lifetime 02:00:00 is longer than site 'a' lets a batch job run"
        r" \(limits.max_walltime 01:00:00\)",
    ):
        asyncio.run(launch())
    assert len(read_journal(federation.run_dir).tasks) == before


@pytest.mark.timeout(60)
def test_an_exchange_that_is_down_is_refused_on_entry(federation: Federation) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def enter() -> None:
        async with FederatedAgents(federation, RedisExchangeFactory("127.0.0.1", port)):
            raise AssertionError("entered with no exchange")

    with pytest.raises(
        ChiltepinError,
        match=rf"exchange \(RedisExchangeFactory\) cannot be reached: .*127.0.0.1:{port}",
    ):
        asyncio.run(enter())


def kill_workers(federation: Federation, site: str) -> set[int]:
    """SIGKILL every worker of ``site`` (each block's process group, by the PIDs its
    provider recorded, as a lost node or a killed batch job would end them); return their
    PIDs once they are gone (their connections closed)."""
    backend = federation.placement.backends[site]
    assert isinstance(backend, LocalBackend)
    groups = backend.worker_groups()
    assert groups and os.getpgid(0) not in groups  # the blocks, never this test's own group
    pids = processes.group_members(groups)
    processes.signal_pids(pids, signal.SIGKILL)
    assert not processes.wait_gone(pids, 30)
    return pids


@pytest.mark.timeout(180)
def test_an_agent_whose_site_is_lost_answers_from_its_fallback_with_its_state(
    tmp_path: Path,
) -> None:
    # Nothing retries the lost launch on its own site (the engine's reruns, the
    # federation's retries), so the first loss moves the agent.
    sites = {
        name: {**entry, "set": [*entry["set"], "tolerance.max_retries_on_system_failure=0"]}
        for name, entry in SITES.items()
    }
    run_dir = tmp_path / "run"

    async def converse(fed: Federation) -> tuple[list[int], int, set[int], int, int]:
        async with FederatedAgents(fed) as agents:
            handle = await agents.launch(KeptCounter, site="a", fallback=("b",), args=(100,))
            before = [await handle.add(n) for n in (1, 2, 3)]
            first = await handle.where()
            killed = kill_workers(fed, "a")
            # sent as soon as the instance is gone, long before b's is up: it waits in
            # the mailbox (one sent while the instance dies may be taken by it: in flight)
            after = await handle.add(4)
            return before, first, killed, after, await handle.where()

    with Federation(sites, run_dir=run_dir, progress=False, retries=0) as fed:
        before, first, killed, after, second = asyncio.run(converse(fed))

    assert before == [101, 103, 106]
    assert first in killed  # the first instance ran in a worker of a, now gone
    assert after == 110  # a new instance, from the checkpoint of the last answered action
    assert second not in killed and second != os.getpid()

    record = read_journal(run_dir)
    launched = [e for e in record.agents if e.state == "launched"]
    assert [(e.launch, e.site) for e in launched] == [(1, "a"), (2, "b")]
    assert len({e.agent for e in record.agents}) == 1  # one agent, one mailbox
    [lost] = [e for e in record.agents if e.state == "failed"]
    assert (lost.launch, lost.site, lost.task) == (1, "a", launched[0].task)
    assert lost.error is not None and "failed on every attempt (a)" in lost.error
    assert lost.at <= launched[1].at  # the second launch began after the first ended
    assert record.tasks[launched[1].task].attempts[-1].site == "b"
    assert (run_dir / "agents" / f"{lost.agent}.checkpoint").exists()

    [row] = build_report(run_dir).agents
    assert (row.site, row.ran_on, row.launches, row.state) == ("b", "b", 2, "ended")


@pytest.mark.timeout(90)
def test_an_agent_whose_own_code_fails_is_not_moved(federation: Federation) -> None:
    def lives() -> list[tuple[int, str | None, str]]:
        return [
            (e.launch, e.site, e.state)
            for e in read_journal(federation.run_dir).agents
            if e.name == "FailsAtStart"
        ]

    async def launch() -> None:
        async with FederatedAgents(federation) as agents:
            await agents.launch(FailsAtStart, site="a", fallback=("b",))
            await asyncio.to_thread(
                wait_until, lambda: len(lives()) == 2, 60, what="its launch ended"
            )

    # the manager raises the agent's failure as it closes
    with pytest.raises(TaskExecutionFailed, match="RuntimeError: will not start"):
        asyncio.run(launch())
    assert lives() == [(1, "a", "launched"), (1, "a", "failed")]  # b was never tried
