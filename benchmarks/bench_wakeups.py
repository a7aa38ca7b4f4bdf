"""Wake-ups per item on the two threads that hand many small items over one by one.

- Results: ``Federation.map`` hands results back through ``in_order``, which gathers the
  results that arrive within ``GATHER_S`` of each other. Measured: times the consumer
  thread gives up the CPU for 600 results arriving one per millisecond, against a
  consumer that waits on each result in turn (woken once per result) in the same run.
  Target: at most a quarter of the baseline's wake-ups.
- Submissions: a :class:`~chiltepin.client.burst.Burst` holds tasks while they keep
  coming. Measured: deliveries for a 300-item stream (one item per 0.5 ms), against a
  Burst that delivers whatever has arrived as soon as it wakes (no linger, no hold: how
  the SDK's submitter thread sends them) in the same run. Target: at most a tenth.

Both depend on the scheduler, so they are measured here in rounds and not asserted in
tests.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.figures import Figure, Rounds
from chiltepin.client.burst import Burst
from chiltepin.federation.streams import in_order

RESULTS = 600
ITEMS = 300


def voluntary_switches() -> int:
    """Times this thread has given up the CPU of its own accord (Linux).

    Read from ``/proc`` directly: psutil counts context switches per process only, and the
    process's other threads would drown the consumer thread's own.
    """
    status = Path(f"/proc/self/task/{threading.get_native_id()}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("voluntary_ctxt_switches"))
    return int(line.split()[1])


def one_by_one(futures: list[concurrent.futures.Future[Any]]) -> Iterator[Any]:
    """The baseline consumer: wait for each result in turn."""
    for future in futures:
        yield future.result()


def consumer_wakeups(
    consume: Callable[[list[concurrent.futures.Future[Any]]], Iterator[Any]],
) -> float:
    """Voluntary switches of a consumer of results set one per millisecond."""
    futures: list[concurrent.futures.Future[int]] = [
        concurrent.futures.Future() for _ in range(RESULTS)
    ]

    def produce() -> None:
        for i, future in enumerate(futures):
            time.sleep(0.001)  # the pace results arrive at
            future.set_result(i)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    before = voluntary_switches()
    assert list(consume(futures)) == list(range(RESULTS))
    switches = voluntary_switches() - before
    producer.join()
    return float(switches)


def burst_deliveries(linger_s: float, max_hold_s: float) -> float:
    """Deliveries of a Burst fed a steady stream of items."""
    batches: list[list[int]] = []
    burst = Burst(batches.append, name="bench-burst", linger_s=linger_s, max_hold_s=max_hold_s)
    for i in range(ITEMS):
        burst.add(i)
        time.sleep(0.0005)  # the pace tasks are submitted at
    burst.close()
    assert [i for b in batches for i in b] == list(range(ITEMS))
    return float(len(batches))


def run(rounds: int = 5) -> list[Figure]:
    results = Rounds(
        rounds,
        {
            "gathered": lambda: consumer_wakeups(lambda f: in_order(f, None)),
            "one by one": lambda: consumer_wakeups(one_by_one),
        },
    )
    submissions = Rounds(
        rounds,
        {
            "burst": lambda: burst_deliveries(linger_s=0.02, max_hold_s=0.25),
            "immediate": lambda: burst_deliveries(linger_s=0.0, max_hold_s=0.0),
        },
    )
    gathered = results.figure(
        f"consumer wake-ups, {RESULTS} results at 1/ms: Federation.map / one by one",
        "gathered",
        "one by one",
        "switches",
        0.25,
        higher=False,
    )
    bursts = submissions.figure(
        f"submit deliveries, {ITEMS} tasks at 2/ms: Burst / deliver on wake",
        "burst",
        "immediate",
        "deliveries",
        0.1,
        higher=False,
    )
    return [gathered, bursts]
