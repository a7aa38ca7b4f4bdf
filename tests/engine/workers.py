"""The Parsl worker pools one engine started, observed (never signalled).

Matched on the ``--logdir`` Parsl gives every pool, which lies under the engine's run
directory: another run on the same machine (a concurrent test session) has pools too, and
counting those would blame this engine for them.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil


def worker_pools(run_dir: Path) -> set[int]:
    """PIDs of the running ``process_worker_pool`` processes of the engine in ``run_dir``."""
    logdir = f"--logdir={run_dir}{os.sep}"
    found = set()
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any("process_worker_pool" in part for part in cmdline) and any(
            part.startswith(logdir) for part in cmdline
        ):
            found.add(proc.pid)
    return found
