"""Parsl DAGs through Globus Compute: chiltepin's Workflow vs the plain GlobusComputeExecutor.

Parsl's DataFlowKernel hands tasks to the SDK one at a time. With the plain
``GlobusComputeExecutor`` that makes tiny batches and trips the SDK's client-side
limiter; chiltepin's bridge forwards them in bursts. Same endpoint, same stand-in, same
1,000 no-op apps, each path measured from an empty rate-limit window, in turns over a few
rounds; figures: tasks/s ratio (target >= 1.0) and submit requests (lower is better,
reported against the plain path's count), each the median of the rounds' own ratios (a
round whose plain path sent no request gives none, and the figure is not measured).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import parsl
from globus_compute_sdk import Executor
from parsl.config import Config
from parsl.executors import GlobusComputeExecutor

from benchmarks.figures import Figure, Rounds, paired, rate
from benchmarks.standin import SERVICE_WINDOW_S, endpoints
from chiltepin.client.compute import BudgetedClient
from chiltepin.workflow import Workflow, python_task

TASKS = 1000


def noop(x: int) -> int:
    return x


def _plain(endpoint_id: str, tasks: int, run_dir: Path) -> tuple[float, int]:
    client = BudgetedClient()
    executor = GlobusComputeExecutor(
        Executor(endpoint_id=endpoint_id, client=client, task_group_id=uuid.uuid4()),
        label="plain",
    )
    app = parsl.python_app(noop, executors=["plain"])
    with parsl.load(Config(executors=[executor], run_dir=str(run_dir))):
        app(0).result()
        time.sleep(SERVICE_WINDOW_S)
        before = client.submit_requests
        speed = rate(tasks, lambda: [f.result() for f in [app(i) for i in range(tasks)]])
        requests = client.submit_requests - before
    parsl.clear()
    return speed, requests


def _bridge(endpoint_id: str, tasks: int, run_dir: Path) -> tuple[float, int]:
    client = BudgetedClient()
    task = python_task(noop)
    sites = {"ep": {"endpoint_id": endpoint_id, "site": "localhost"}}
    with Workflow(sites, run_dir=run_dir, client=client):
        task(0).result()
        time.sleep(SERVICE_WINDOW_S)
        before = client.submit_requests
        speed = rate(tasks, lambda: [f.result() for f in [task(i) for i in range(tasks)]])
        requests = client.submit_requests - before
    return speed, requests


def run(tasks: int = TASKS, rounds: int = 3) -> list[Figure]:
    paths = {"plain": _plain, "bridge": _bridge}
    requests: dict[str, list[int]] = {name: [] for name in paths}
    with endpoints("bench-bridge") as (endpoint,), tempfile.TemporaryDirectory() as tmp:

        def measure(name: str) -> Callable[[], float]:
            def once() -> float:
                run_dir = Path(tmp) / f"{name}-{len(requests[name])}"
                speed, count = paths[name](endpoint.endpoint_id, tasks, run_dir)
                requests[name].append(count)
                return speed

            return once

        measured = Rounds(rounds, {name: measure(name) for name in paths})
    return [
        measured.figure(
            f"Parsl DAG tasks/s: chiltepin Workflow / plain GlobusComputeExecutor, {tasks}",
            "bridge",
            "plain",
            "tasks/s",
            1.0,
        ),
        paired(
            f"Parsl DAG submit requests: Workflow / plain GlobusComputeExecutor, {tasks}",
            requests["bridge"],
            requests["plain"],
            "requests",
            1.0,
            higher=False,
        ),
    ]
