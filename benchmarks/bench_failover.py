"""Failover: from a site's death to its tasks running elsewhere.

Two embedded local sites share 1-second tasks; the workers of one are SIGKILLed (by the
PIDs its provider recorded). Measured: seconds from the kill until every task that was on
the dead site has started its next attempt on the other. The floor is the site's worker
heartbeat threshold (how long silence is tolerated before workers are declared lost), so
the figure is reported against it (target: within 3x: detection also waits for the
interchange's next heartbeat check and the block status poll).
"""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path

from benchmarks.figures import Figure
from chiltepin.federation import Federation
from chiltepin.federation.backends.local import LocalBackend
from chiltepin.system import processes
from chiltepin.system.waiting import wait_until

THRESHOLD_S = 3
TOLERANCE = [
    "tolerance.worker_heartbeat_period=1",
    f"tolerance.worker_heartbeat_threshold={THRESHOLD_S}",
    "tolerance.max_retries_on_system_failure=0",
]


def nap(x: int) -> int:
    import time

    time.sleep(1.0)
    return x


def run(tasks: int = 12) -> list[Figure]:
    sites = {
        name: {
            "kind": "local",
            "site": "localhost",
            "set": TOLERANCE,
            "options": {"max_workers_per_node": 2},
        }
        for name in ("doomed", "survivor")
    }
    with (
        tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp,
        Federation(sites, run_dir=Path(tmp), progress=False, policy="round_robin") as fed,
    ):
        list(fed.map(nap, range(4)))  # both engines up
        futures = [fed.submit(nap, i) for i in range(tasks)]
        time.sleep(0.3)
        stranded = [f for f in futures if f.site == "doomed" and not f.done()]
        backend = fed.placement.backends["doomed"]
        assert isinstance(backend, LocalBackend)
        killed_at = time.monotonic()
        processes.signal_pids(processes.group_members(backend.worker_groups()), signal.SIGKILL)
        wait_until(
            lambda: not any(f.attempts == 1 and not f.done() for f in stranded),
            120,
            interval=0.05,
            what="stranded tasks re-placed",
        )
        moved_by = time.monotonic()
        assert [f.result(120) for f in futures] == list(range(tasks))
    seconds = moved_by - killed_at
    return [
        Figure(
            "failover: site death to its tasks re-placed elsewhere (vs heartbeat threshold)",
            seconds,
            float(THRESHOLD_S),
            "s",
            3.0,
            higher=False,
            absolute=True,
        )
    ]
