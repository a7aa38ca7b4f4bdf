"""Placement under uneven sites: late binding (``soonest``) against a fixed split
(``capacity``) and plain Parsl over two ``GlobusComputeExecutor``s.

Two single-host Slurm clusters, each behind a real endpoint of the ``docker`` site (up to
3 one-node blocks of 2 workers) reached through the stand-in; ``TASKS`` tasks of 1 s.
Scenarios:

- ``equal``: the two sites alike;
- ``slow queue``: site a's nodes are held by a foreign job for the first 60 s;
- ``slow site``: site b's tasks take three times as long;
- ``site stop``: site b's endpoint is stopped once 30 % of the results are in.

Figure: makespan / oracle, lower is better. The oracle is the best placement in hindsight
of that very run: the shortest makespan in which the workers the run actually had could
have done every task, each worker available from its block's start (a Slurm job of the
endpoint's provider, its StartTime as Slurm records it, :class:`Blocks`), and each task
taking its set time on that site (1 s, or 3 s on a slow site). A block stays available to
the oracle until the run ends, unless its endpoint was stopped (then until the stop, or
Slurm's EndTime of the job if later): a provider scales in a block that ran out of work,
so when blocks ended says what the placement did, not what it could have done
(:func:`benchmarks.oracle.site_blocks`). For identical tasks this is exact
(:func:`benchmarks.oracle.oracle`). It counts no round trip to the
service and no worker start-up after the job starts, so even a perfect client stays above
1; the notes give an estimate, a second oracle with each block's workers starting as late
after it as the run's first result came after its first block (less one task time), and
the ratio against it: an estimate, not a bound, and labelled so.

Each scenario runs its three paths in ``ROUNDS`` rotating rounds (soonest, capacity,
parsl; then capacity, parsl, soonest; then parsl, soonest, capacity; ...), so that no path
always runs first, on the freshest clusters, or just after the same other one. A path's
figure is the median of its rounds' own makespan / oracle (each round against the oracle
of its own blocks), shown with their spread (lowest-highest); its note gives each round's
notes in turn.

A figure is not measured (and never met) when, in any of its rounds, the oracle could not
be computed (no blocks seen, ``scontrol`` failing) or the path did not finish within
``DEADLINE_S`` (plain Parsl loses what a stopped endpoint held): that round's time is the
deadline, not a makespan, and the figure names the round and why.

``python -m benchmarks.bench_placement --tasks 20 --scenario equal --rounds 3`` is a quick
look with fewer tasks, scenarios or rounds: printed, not written to the record.
What late binding spent on demand is noted per run: its raced attempts, each at most one
duplicate task run, in node-hours (``WORKERS_PER_NODE`` workers a node).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import math
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any

from benchmarks.figures import Figure, Rounds, of_rounds
from benchmarks.oracle import Site, Unmeasured, oracle, site_blocks
from benchmarks.record import FigureRecord
from benchmarks.render import cells
from chiltepin.cluster import slurm
from chiltepin.cluster.cluster import SlurmCluster, SlurmClusterError
from chiltepin.cluster.config import ClusterSpec
from chiltepin.testing.server import GlobusStandIn
from chiltepin.testing.session import offline_session
from chiltepin.testing.site_endpoint import SiteEndpoint, start_site_endpoint, stop_site_endpoint

TASKS = 200
TASK_S = 1.0
WORKERS_PER_NODE = 2  # the docker site's workers per node (3 blocks of one node)
HELD_S = 60.0
SLOW = 3.0
STOP_AT = 0.3
DEADLINE_S = 300.0
PATHS = ("soonest", "capacity", "parsl")
SCENARIOS = ("equal", "slow queue", "slow site", "site stop")
ROUNDS = 3
POLL_S = 2.0  # how often Slurm's job records are read (their times are Slurm's own)


def paced(x: int, seconds: float, slow_cluster: str, factor: float) -> int:
    """Sleep ``seconds`` (``factor`` times that on the Slurm cluster ``slow_cluster``)."""
    import os
    import time

    slow = os.environ.get("SLURM_CLUSTER_NAME") == slow_cluster
    time.sleep(seconds * (factor if slow else 1.0))
    return x


class Blocks:
    """The batch jobs that run on ``cluster`` from now on, as Slurm records them.

    The times are Slurm's own (each job's StartTime and EndTime, ``scontrol show job``), not
    when a poll saw a job: the poll every ``period`` s only reads each record before the
    controller forgets it, ``MinJobAge`` after the job ended (300 s in the single-host
    cluster's ``slurm.conf``, which ``tests/benchmarks`` hold above the period), and
    the last read is at :meth:`jobs`. Jobs already known when watching began (a foreign
    job, an earlier run's blocks) are not blocks. A failing ``scontrol`` ends the watch and
    is kept (:attr:`failure`): blocks it did not see must not read as blocks that never ran.
    """

    def __init__(self, cluster: SlurmCluster, period: float = POLL_S) -> None:
        self._cluster = cluster
        self._period = period
        self._ignore = {job.job_id for job in self._read()}
        self._latest: dict[str, slurm.JobRecord] = {}
        self.failure = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _read(self) -> list[slurm.JobRecord]:
        return slurm.job_records(self._cluster.run(["scontrol", "show", "job", "-o"]).stdout)

    def _watch(self) -> None:
        while True:
            closing = self._stop.is_set()  # then this read is the last
            try:
                jobs = self._read()
            except SlurmClusterError as err:
                self.failure = f"scontrol failed: {err}"
                return
            self._latest |= {job.job_id: job for job in jobs if job.job_id not in self._ignore}
            if closing:
                return
            self._stop.wait(self._period)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def jobs(self) -> list[slurm.JobRecord]:
        """Each job's last record, read once more now."""
        self.close()
        return list(self._latest.values())


@contextmanager
def two_sites(tmp: Path) -> Iterator[tuple[GlobusStandIn, dict[str, SlurmCluster]]]:
    """The stand-in and two clusters (endpoints are started per run: a stop ends one)."""
    with ExitStack() as stack:
        standin = stack.enter_context(offline_session(tmp / "service"))
        clusters = {}
        for name in ("a", "b"):
            spec = ClusterSpec(name=f"bench-{name}", nodes=3, state_dir=tmp / f"cluster-{name}")
            clusters[name] = stack.enter_context(SlurmCluster(spec.with_ports()))
        yield standin, clusters


def _endpoints(
    standin: GlobusStandIn, clusters: dict[str, SlurmCluster]
) -> dict[str, SiteEndpoint]:
    root = Path(os.environ["GLOBUS_COMPUTE_USER_DIR"])
    return {
        name: start_site_endpoint(
            f"bench-place-{name}-{uuid.uuid4().hex[:6]}",
            "docker",
            standin,
            root=root,
            overrides=(f"partition={cluster.spec.partition}",),
            environment=cluster.env(),
        )
        for name, cluster in clusters.items()
    }


Futures = list[concurrent.futures.Future[Any]]
Raced = Callable[[], dict[str, int]]  # raced attempts per site, so far
Run = Callable[
    [dict[str, SiteEndpoint], Path, list[tuple[Any, ...]]],
    AbstractContextManager[tuple[Futures, Raced]],
]


@contextmanager
def federation_run(
    policy: str,
    endpoints: dict[str, SiteEndpoint],
    run_dir: Path,
    args: list[tuple[Any, ...]],
) -> Iterator[tuple[Futures, Raced]]:
    """The tasks submitted to a Federation over both endpoints with ``policy``."""
    from chiltepin.federation import Federation

    sites = {
        name: {"endpoint_id": ep.endpoint_id, "site": "docker", "offline_grace_s": 20}
        for name, ep in endpoints.items()
    }
    fed = Federation(sites, run_dir=run_dir, progress=False, policy=policy)
    try:
        futures: Futures = [fed.submit(paced, *a) for a in args]
        yield futures, lambda: {c.site: c.raced for c in fed.summary()}
    finally:
        fed.shutdown(wait=False, cancel_futures=True)


@contextmanager
def parsl_run(
    endpoints: dict[str, SiteEndpoint],
    run_dir: Path,
    args: list[tuple[Any, ...]],
) -> Iterator[tuple[Futures, Raced]]:
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
        yield [app(*a) for a in args], dict
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
    standin: GlobusStandIn,
    clusters: dict[str, SlurmCluster],
    run_dir: Path,
    tasks: int,
) -> Figure:
    """One path's run of ``scenario``: its makespan against the oracle of its own blocks."""
    endpoints = _endpoints(standin, clusters)
    factor = SLOW if scenario == "slow site" else 1.0
    args = [(i, TASK_S, "bench-b", factor) for i in range(tasks)]
    foreign = None
    if scenario == "slow queue":
        foreign = clusters["a"].sbatch(
            "--nodes=3",
            "--exclusive",
            "--output=/dev/null",
            script=f"#!/bin/sh\nsleep {HELD_S:g}\n",
        )
    watchers = {name: Blocks(cluster) for name, cluster in clusters.items()}
    started, t0 = time.monotonic(), time.time()  # t0: the epoch seconds Slurm's times are in
    stopped_at = math.inf
    try:
        with RUNS[path](endpoints, run_dir, args) as (futures, raced):
            results_at: list[float] = []  # the first tells the start-up the oracle leaves out
            for future in futures:
                future.add_done_callback(lambda _: results_at.append(time.monotonic()))
            if scenario == "site stop":
                pending = set(futures)
                while len(futures) - len(pending) < STOP_AT * tasks:
                    _, pending = concurrent.futures.wait(
                        pending, timeout=DEADLINE_S, return_when=concurrent.futures.FIRST_COMPLETED
                    )
                stopped_at = time.monotonic() - started
                stop_site_endpoint(endpoints["b"])
            _, undone = concurrent.futures.wait(futures, timeout=DEADLINE_S)
            makespan = time.monotonic() - started
            jobs = {name: watcher.jobs() for name, watcher in watchers.items()}
            failures = [f"site {n}: {w.failure}" for n, w in watchers.items() if w.failure]
            demand = raced()
    finally:
        for watcher in watchers.values():
            watcher.close()
        for endpoint in endpoints.values():
            stop_site_endpoint(endpoint)
        if foreign is not None:
            clusters["a"].run(["scancel", foreign], check=False)
    stops = {"a": math.inf, "b": stopped_at}
    blocks = {site: site_blocks(seen, t0, stops[site]) for site, seen in jobs.items()}
    task_s = {"a": TASK_S, "b": TASK_S * factor}

    def best(shift: float = 0.0) -> float | Unmeasured:
        """The oracle of this run's blocks, each starting ``shift`` s late."""
        if failures:
            return Unmeasured("; ".join(failures))
        late = {s: [b._replace(start=b.start + shift) for b in bs] for s, bs in blocks.items()}
        sites = [Site(late[name], task_s[name]) for name in clusters]
        return oracle(tasks, sites, WORKERS_PER_NODE, DEADLINE_S)

    bound = best()
    node_hours = sum(n * task_s[site] / WORKERS_PER_NODE / 3600 for site, n in demand.items())
    notes = [
        "blocks (Slurm's StartTime, s): "
        + "; ".join(
            f"{n}: " + ", ".join(f"{b.start:.0f}" for b in sorted(bs)) for n, bs in blocks.items()
        ),
        f"oracle {_seconds(bound)}",
    ]
    first = min(results_at, default=math.inf) - started
    notes.append(f"first result at {first:.1f} s")
    earliest = min((b.start for bs in blocks.values() for b in bs), default=math.inf)
    if first < math.inf and earliest < math.inf:  # each block's start-up, as this run's first
        startup = max(0.0, first - TASK_S - earliest)
        warm = best(startup)
        ratio = f", ratio {makespan / warm:.2f}" if isinstance(warm, float) else ""
        notes.append(
            f"estimate, with {startup:.1f} s of worker start-up per block:"
            f" oracle {_seconds(warm)}{ratio}"
        )
    if path != "parsl":
        notes.append(f"raced {sum(demand.values())} ({node_hours:.4f} node-hours at most)")
    unmeasured = bound.why if isinstance(bound, Unmeasured) else ""
    if undone:
        unmeasured = f"did not finish within {DEADLINE_S:.0f} s ({len(undone)} tasks left)"
    return Figure(
        f"makespan / oracle, {scenario}, {tasks} x {TASK_S:g} s: {path}",
        makespan,
        bound if isinstance(bound, float) else math.nan,
        "s",
        1.2,
        higher=False,
        note="; ".join(notes),
        unmeasured=unmeasured,
    )


def _seconds(bound: float | Unmeasured) -> str:
    return f"{bound:.1f} s" if isinstance(bound, float) else f"not measured: {bound.why}"


def _rounds(
    scenario: str,
    rounds: int,
    standin: GlobusStandIn,
    clusters: dict[str, SlurmCluster],
    tmp: Path,
    tasks: int,
) -> list[Figure]:
    """Each path's figure of ``scenario``, its runs taken in rotating rounds: the median
    of the rounds' own makespan / oracle, with their spread (:func:`of_rounds`)."""
    runs: dict[str, list[Figure]] = {path: [] for path in PATHS}

    def take(path: str) -> Callable[[], float]:
        def once() -> float:
            run_dir = tmp / f"{scenario.replace(' ', '-')}-{path}-{len(runs[path]) + 1}"
            runs[path].append(_one(scenario, path, standin, clusters, run_dir, tasks))
            return runs[path][-1].value

        return once

    Rounds(rounds, {path: take(path) for path in PATHS}, rotate=True)
    return [of_rounds(runs[path]) for path in PATHS]


def run(
    tasks: int = TASKS, scenarios: tuple[str, ...] = SCENARIOS, rounds: int = ROUNDS
) -> list[Figure]:
    figures = []
    with (
        tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp,
        two_sites(Path(tmp)) as (standin, clusters),
    ):
        for scenario in scenarios:
            figures += _rounds(scenario, rounds, standin, clusters, Path(tmp), tasks)
    return figures


def main(argv: list[str] | None = None) -> None:
    """A run with fewer tasks, scenarios or rounds, printed and not recorded (a quick look
    while changing placement; ``./dev bench placement`` is what the record holds)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=_at_least_one, default=TASKS)
    parser.add_argument("--rounds", type=_at_least_one, default=ROUNDS, help=f"(default {ROUNDS})")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="a scenario to run (again for more; default all)",
    )
    args = parser.parse_args(argv)
    for figure in run(args.tasks, tuple(args.scenario or SCENARIOS), args.rounds):
        _, value, baseline, ratio, target, met = cells(FigureRecord.of(figure), unicode=False)
        print(f"{figure.name}: {ratio} (target {target}: {met}); {value} / oracle {baseline}")
        print(f"    {figure.note}")


def _at_least_one(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


if __name__ == "__main__":
    main()
