"""Through the stand-in: Federation vs the raw SDK Executor, request counts, latency.

Both paths reach the same real endpoints (``localhost`` site) through the same stand-in
and RabbitMQ, which enforces the service's submit limit (20 requests per 10 s); each
measured 1,000-task burst starts with an empty request window, the three paths taking turns
in rotating rounds (ABC, BCA, CAB, ...). Figures:

- Federation over one endpoint / raw SDK ``Executor`` to it, no-op tasks/s (target >= 0.9);
- Federation over two endpoints / raw SDK ``Executor`` to one (target >= 0.9: a second
  site must not slow the client down);
- submit HTTP requests per task for a 1,000-task map (target <= 0.01);
- round-trip latency of one no-op, p50 and p95 over 100 tasks (reported; the endpoint
  flushes results every 0.5 s, which bounds it from below).
"""

from __future__ import annotations

import concurrent.futures
import statistics
import time
import uuid

from globus_compute_sdk import Executor

from benchmarks.figures import Figure, Rounds, rate
from benchmarks.standin import SERVICE_WINDOW_S, endpoints
from chiltepin.client.compute import BudgetedClient
from chiltepin.federation import Federation

TASKS = 1000


def noop(x: int) -> int:
    return x


def _sites(*endpoint_ids: str) -> dict[str, dict]:
    return {f"ep{i}": {"endpoint_id": e, "site": "localhost"} for i, e in enumerate(endpoint_ids)}


def run(tasks: int = TASKS, rounds: int = 5) -> list[Figure]:
    with endpoints("bench-a", "bench-b") as (a, b):
        raw_executor = Executor(endpoint_id=a.endpoint_id, task_group_id=uuid.uuid4())
        one = Federation(_sites(a.endpoint_id), progress=False, client=BudgetedClient())
        two = Federation(
            _sites(a.endpoint_id, b.endpoint_id), progress=False, client=BudgetedClient()
        )
        try:
            for warm in (
                lambda: raw_executor.submit(noop, 0).result(120),
                lambda: list(one.map(noop, range(4), timeout=120)),
                lambda: list(two.map(noop, range(4), timeout=120)),
            ):
                warm()

            def raw() -> None:
                futures = [raw_executor.submit(noop, i) for i in range(tasks)]
                concurrent.futures.wait(futures, timeout=600)

            requests_before = one.client.submit_requests
            measured = Rounds(
                rounds,
                {
                    "raw": lambda: rate(tasks, raw),
                    "one": lambda: rate(tasks, lambda: list(one.map(noop, range(tasks)))),
                    "two": lambda: rate(tasks, lambda: list(two.map(noop, range(tasks)))),
                },
                settle_s=SERVICE_WINDOW_S,
                rotate=True,
            )
            requests_per_task = (one.client.submit_requests - requests_before) / (rounds * tasks)

            latencies = []
            for i in range(100):
                started = time.perf_counter()
                one.submit(noop, i).result(60)
                latencies.append(time.perf_counter() - started)
        finally:
            one.shutdown()
            two.shutdown()
            raw_executor.shutdown(wait=False, cancel_futures=True)
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[-1]
    return [
        measured.figure(
            f"no-op tasks/s via stand-in: Federation(1 endpoint) / raw SDK Executor, {tasks}",
            "one",
            "raw",
            "tasks/s",
            0.9,
        ),
        measured.figure(
            f"no-op tasks/s via stand-in: Federation(2 endpoints) / raw SDK Executor, {tasks}",
            "two",
            "raw",
            "tasks/s",
            0.9,
        ),
        Figure(
            f"submit HTTP requests per task, {tasks}-task map",
            requests_per_task,
            1.0,
            "requests/task",
            0.01,
            higher=False,
            absolute=True,
        ),
        Figure(
            "no-op round trip p50 via stand-in (endpoint flushes results every 0.5 s)",
            p50,
            1.0,
            "s",
            1.0,
            higher=False,
            absolute=True,
        ),
        Figure(
            "no-op round trip p95 via stand-in", p95, 1.0, "s", 2.0, higher=False, absolute=True
        ),
    ]
