"""Placement under uneven sites: late binding (``soonest``) against a fixed split
(``capacity``) and plain Parsl over two ``GlobusComputeExecutor``s.

Two single-host Slurm clusters, each behind a real endpoint of the ``docker`` site (up to
3 one-node blocks of 2 workers) reached through the stand-in; ``TASKS`` tasks of 1 s.
Scenarios:

- ``equal``: the two sites alike;
- ``slow queue``: site a's nodes are held by a foreign job for the first 60 s;
- ``slow site``: site b's tasks take three times as long;
- ``site stop``: site b's endpoint is stopped once 30 % of the results are in.

Figure: makespan / oracle, where the oracle is the shortest makespan the sites' workers
allow (all of them busy from the start, or from when they become free); lower is better.
A path that does not finish within ``DEADLINE_S`` (plain Parsl loses what a stopped
endpoint held) is reported at the deadline, noted as unfinished.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

from benchmarks.figures import Figure
from chiltepin.cluster.cluster import SlurmCluster
from chiltepin.cluster.config import ClusterSpec
from chiltepin.testing.session import offline_session
from chiltepin.testing.site_endpoint import SiteEndpoint, start_site_endpoint, stop_site_endpoint

TASKS = 200
TASK_S = 1.0
WORKERS = 6  # per site: 3 blocks of one 2-worker node
HELD_S = 60.0
SLOW = 3.0
STOP_AT = 0.3
DEADLINE_S = 900.0
PATHS = ("soonest", "capacity", "parsl")


def paced(x: int, seconds: float, slow_cluster: str, factor: float) -> int:
    """Sleep ``seconds`` (``factor`` times that on the Slurm cluster ``slow_cluster``)."""
    import os
    import time

    slow = os.environ.get("SLURM_CLUSTER_NAME") == slow_cluster
    time.sleep(seconds * (factor if slow else 1.0))
    return x


def oracle(scenario: str, tasks: int = TASKS) -> float:
    """The shortest makespan the two sites' workers allow in ``scenario``."""
    work = tasks * TASK_S
    if scenario == "slow site":
        return work / (WORKERS + WORKERS / SLOW)
    if scenario == "slow queue":
        alone = HELD_S * WORKERS / TASK_S  # what b finishes while a's nodes are held
        if tasks <= alone:
            return work / WORKERS
        return HELD_S + (tasks - alone) * TASK_S / (2 * WORKERS)
    if scenario == "site stop":
        return STOP_AT * work / (2 * WORKERS) + (1 - STOP_AT) * work / WORKERS
    return work / (2 * WORKERS)


@contextmanager
def two_sites(tmp: Path) -> Iterator[tuple[object, dict[str, SlurmCluster]]]:
    """The stand-in and two clusters (endpoints are started per run: a stop ends one)."""
    with ExitStack() as stack:
        standin = stack.enter_context(offline_session(tmp / "service"))
        clusters = {}
        for name in ("a", "b"):
            spec = ClusterSpec(name=f"bench-{name}", nodes=3, state_dir=tmp / f"cluster-{name}")
            clusters[name] = stack.enter_context(SlurmCluster(spec.with_ports()))
        yield standin, clusters


def _endpoints(standin: object, clusters: dict[str, SlurmCluster]) -> dict[str, SiteEndpoint]:
    root = Path(os.environ["GLOBUS_COMPUTE_USER_DIR"])
    return {
        name: start_site_endpoint(
            f"bench-place-{name}-{uuid.uuid4().hex[:6]}",
            "docker",
            standin,  # type: ignore[arg-type]
            root=root,
            overrides=(f"partition={cluster.spec.partition}",),
            environment=cluster.env(),
        )
        for name, cluster in clusters.items()
    }


Run = Callable[[dict[str, SiteEndpoint], Path, list[tuple]], AbstractContextManager[list]]  # type: ignore[type-arg]


@contextmanager
def federation_run(
    policy: str,
    endpoints: dict[str, SiteEndpoint],
    run_dir: Path,
    args: list[tuple],  # type: ignore[type-arg]
) -> Iterator[list[concurrent.futures.Future]]:  # type: ignore[type-arg]
    """The tasks submitted to a Federation over both endpoints with ``policy``."""
    from chiltepin.federation import Federation

    sites = {
        name: {"endpoint_id": ep.endpoint_id, "site": "docker", "offline_grace_s": 20}
        for name, ep in endpoints.items()
    }
    fed = Federation(sites, run_dir=run_dir, progress=False, policy=policy, status_poll_s=1)
    try:
        yield [fed.submit(paced, *a) for a in args]
    finally:
        fed.shutdown(wait=False, cancel_futures=True)


@contextmanager
def parsl_run(
    endpoints: dict[str, SiteEndpoint],
    run_dir: Path,
    args: list[tuple],  # type: ignore[type-arg]
) -> Iterator[list[concurrent.futures.Future]]:  # type: ignore[type-arg]
    """The tasks as plain Parsl apps over one GlobusComputeExecutor per endpoint (Parsl
    picks an executor at random for each task)."""
    import parsl
    from globus_compute_sdk import Executor
    from parsl.config import Config
    from parsl.executors import GlobusComputeExecutor

    from chiltepin.client.compute import BudgetedClient

    client = BudgetedClient()
    executors = [
        GlobusComputeExecutor(
            Executor(endpoint_id=ep.endpoint_id, client=client, task_group_id=uuid.uuid4()),
            label=name,
        )
        for name, ep in endpoints.items()
    ]
    dfk = parsl.load(Config(executors=executors, run_dir=str(run_dir)))
    app = parsl.python_app(paced, executors=list(endpoints))
    try:
        yield [app(*a) for a in args]
    finally:
        dfk.cleanup()
        parsl.clear()


RUNS: dict[str, Run] = {
    "soonest": functools.partial(federation_run, "soonest"),
    "capacity": functools.partial(federation_run, "capacity"),
    "parsl": parsl_run,
}


def _one(
    scenario: str,
    path: str,
    standin: object,
    clusters: dict[str, SlurmCluster],
    run_dir: Path,
    tasks: int,
) -> tuple[float, bool]:
    """Makespan of one path in one scenario, and whether it finished."""
    endpoints = _endpoints(standin, clusters)
    factor = SLOW if scenario == "slow site" else 1.0
    args = [(i, TASK_S, "bench-b", factor) for i in range(tasks)]
    foreign = None
    if scenario == "slow queue":
        foreign = clusters["a"].sbatch(
            "--nodes=3", "--exclusive", "--output=/dev/null", script="#!/bin/sh\nsleep 60\n"
        )
    started = time.monotonic()
    try:
        with RUNS[path](endpoints, run_dir, args) as futures:
            if scenario == "site stop":
                pending = set(futures)
                while len(futures) - len(pending) < STOP_AT * tasks:
                    _, pending = concurrent.futures.wait(
                        pending, timeout=DEADLINE_S, return_when=concurrent.futures.FIRST_COMPLETED
                    )
                stop_site_endpoint(endpoints["b"])
            _, undone = concurrent.futures.wait(futures, timeout=DEADLINE_S)
            return time.monotonic() - started, not undone
    finally:
        for endpoint in endpoints.values():
            stop_site_endpoint(endpoint)
        if foreign is not None:
            clusters["a"].run(["scancel", foreign], check=False)


def run(tasks: int = TASKS, scenarios: tuple[str, ...] | None = None) -> list[Figure]:
    chosen = scenarios or ("equal", "slow queue", "slow site", "site stop")
    figures = []
    with (
        tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp,
        two_sites(Path(tmp)) as (standin, clusters),
    ):
        for scenario in chosen:
            best = oracle(scenario, tasks)
            for path in PATHS:
                run_dir = Path(tmp) / f"{scenario.replace(' ', '-')}-{path}"
                makespan, finished = _one(scenario, path, standin, clusters, run_dir, tasks)
                figures.append(
                    Figure(
                        f"makespan / oracle, {scenario}, {tasks} x {TASK_S:g} s: {path}",
                        makespan,
                        best,
                        "s",
                        1.5,
                        higher=False,
                        note="" if finished else f"unfinished after {DEADLINE_S:.0f} s",
                    )
                )
    return figures
