"""The run's live status, written into its journal for readers outside the run.

A dashboard or a metrics exporter in another process must not ask the Compute service
what the run already knows (each request spends the run's 20-per-10-s budget), and a
finished or killed run should replay as it ran. So the running :class:`Federation` writes
what it knows (each site's health, workers and how many are idle, batch blocks running
and pending where the site says, window, outstanding tasks and placement's
estimates; the tasks held on the client; the run's tasks by state; the cost so far) as a
:class:`~chiltepin.federation.journal_format.StatusEvent`, from a thread of its own.

It looks every :data:`PERIOD_S` and writes only when something changed since the last
line, so a busy run writes about one line a second whatever its task rate, and an idle
one writes nothing. The status is read through the federation's public attributes only.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from chiltepin.federation.backends import EndpointBackend
from chiltepin.federation.journal_format import SiteStatus, StatusEvent

if TYPE_CHECKING:
    from chiltepin.federation.executor import Federation

log = logging.getLogger(__name__)
PERIOD_S = 0.5  # how often the status is looked at; a change is written by the next look


def snapshot(fed: Federation) -> StatusEvent:
    """What ``fed`` knows now (its ``at`` is the time of the look)."""
    binder = fed.conductor.binder
    sites = []
    for name, backend in fed.placement.backends.items():
        estimate = fed.estimates[name]
        blocks = backend.blocks
        sites.append(
            SiteStatus(
                site=name,
                healthy=backend.healthy,
                reason=backend.unhealthy_reason,
                state=backend.state.value if isinstance(backend, EndpointBackend) else None,
                workers=backend.live_workers,
                idle=backend.idle_workers,
                blocks_running=blocks.running if blocks is not None else None,
                blocks_pending=blocks.pending if blocks is not None else None,
                capacity=backend.capacity,
                outstanding=backend.outstanding,
                window=binder.window(name),
                expected_s=_round(binder.expected_s(name)),
                run_s=_round(estimate.run_s),
                queue_wait_s=_round(estimate.queue_wait_s),
                failure_rate=round(estimate.failure_rate, 4),
            )
        )
    cost = fed.cost
    return StatusEvent(
        at=round(time.time(), 3),
        sites=tuple(sites),
        held=binder.held,
        states={state.value: n for state, n in fed.states().items()},
        spent=_round(cost.spent) if cost is not None else None,
        budget=cost.budget if cost is not None else None,
        unit=cost.unit if cost is not None else "",
        pid=os.getpid(),
        host=socket.gethostname(),
    )


def _round(value: float | None) -> float | None:
    """``value`` to the millisecond; None for no value or one JSON cannot carry (inf)."""
    return None if value is None or not math.isfinite(value) else round(value, 3)


class StatusWriter:
    """Writes ``fed``'s status into its journal from a daemon thread while it runs."""

    def __init__(self, fed: Federation, period_s: float = PERIOD_S) -> None:
        self._fed = fed
        self._period_s = period_s
        self._last: StatusEvent | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chiltepin-status", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop looking, after one last look: the journal ends with the run's last status."""
        self._stop.set()
        self._thread.join()
        self.write_if_changed()

    def _run(self) -> None:
        self.write_if_changed()
        while not self._stop.wait(self._period_s):
            self.write_if_changed()

    def write_if_changed(self) -> None:
        try:
            status = snapshot(self._fed)
        except Exception:  # a status is not worth a run: say so and look again later
            log.warning("could not read the run's live status", exc_info=True)
            return
        if self._last is not None and replace(status, at=self._last.at) == self._last:
            return
        self._last = status
        self._fed.journal.status(status)
