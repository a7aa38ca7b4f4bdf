"""Tasks the resilience scenarios run (importable on workers as ``tests.resilience.tasks``).

Every task writes to a ledger file: a ``start`` line when it begins and a ``done`` line
just before it returns, each naming the Slurm job and node it ran on. The ledger is the
ground truth, independent of what the federation and its journal say, for "lost" (a task
with no ``done`` line) and "reran" (a task with two: its work was done twice, even when
only one result reached the caller).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import psutil


def _pool_started() -> float | None:
    """When this worker's pool (its parent, the block's manager) started."""
    try:
        return psutil.Process(os.getppid()).create_time()
    except psutil.Error:
        return None


def _write(ledger: str, event: str, i: int, started: float) -> None:
    line = {
        "ev": event,
        "i": i,
        "job": os.environ.get("SLURM_JOB_ID"),
        "node": os.environ.get("SLURMD_NODENAME"),
        "pid": os.getpid(),
        "pool": _pool_started(),
        "start": started,
        "t": time.time(),
    }
    # One short O_APPEND write per line: lines from concurrent workers never interleave.
    with open(ledger, "a") as f:
        f.write(json.dumps(line) + "\n")


def record(ledger: str, i: int, seconds: float) -> int:
    """Run for ``seconds``; log start and completion."""
    started = time.time()
    _write(ledger, "start", i, started)
    time.sleep(seconds)
    _write(ledger, "done", i, started)
    return i


def overrun_once(ledger: str, i: int, first_s: float, then_s: float) -> int:
    """A task whose first attempt overruns its block (``first_s``), later ones do not.

    The first attempt leaves a marker next to the ledger; whichever attempt finds it runs
    ``then_s``. Models a task whose duration varies from run to run (I/O contention, a
    slower node) and that happened to start too late in its block the first time.
    """
    marker = Path(f"{ledger}.overrun-{i}")
    first = not marker.exists()
    marker.touch()
    return record(ledger, i, first_s if first else then_s)
