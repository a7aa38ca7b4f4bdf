"""When something in a run is worth an alert.

- ``site_lost``: a site left placement (taken out after failures, offline past its grace
  period, its workers cannot read this client's functions) or its endpoint stopped; once
  per spell, however many changes of state the spell goes through.
- ``site_back``: a lost site is in placement again and online.
- ``failure_rate``: more than ``failure_rate`` of a site's latest ``failure_window``
  attempts failed for the site's own reasons (lost workers, killed batch job, endpoint
  gone: what the federation retries elsewhere). Attempts that ended with a value count as
  the site's successes; the user's own exceptions say nothing about the site and are left
  out. Judged once the window is full; sent once, and again only after the rate was back
  at or under the threshold.
- ``budget_80`` / ``budget_100``: the run's estimated cost reached 80 % of its budget, and
  the budget is reached (the meter refuses new tasks, or the estimate passed it); once each.
- ``run_finished``: at shutdown, with the run's totals.

Only the kinds the configuration's ``events`` lists are sent; the rest are still followed
(a site lost while ``site_lost`` is off can still come back).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chiltepin.client.config import AlertKind, AlertsConfig
from chiltepin.federation.alerts.payload import Alert
from chiltepin.federation.backends import EndpointState, SiteHealth

#: The named state in which a site's tasks go elsewhere while it is still in placement
#: (an announced stop; lost and version-mismatch take it out of placement, with a reason).
STOPPED = EndpointState.STOPPED.value
#: Named states in which a site is back (None: a site without named states).
BACK_STATES = frozenset({None, EndpointState.ONLINE.value, EndpointState.RETURNED.value})
BUDGET_LEVELS = {0.8: AlertKind.budget_80, 1.0: AlertKind.budget_100}


class AlertRules:
    """Follows a run's sites, attempts and spending; hands each alert due to ``emit``."""

    def __init__(self, config: AlertsConfig, run_dir: Path, emit: Callable[[Alert], None]) -> None:
        self._config = config
        self._wanted = frozenset(config.events)
        self._run_dir = str(run_dir)
        self._emit = emit
        self._lock = threading.Lock()
        self._down_since: dict[str, float] = {}  # lost sites: since when (monotonic)
        self._windows: dict[str, deque[bool]] = {}  # per site: failed, latest last
        self._over: set[str] = set()  # sites whose failure rate was alerted

    def _alert(self, kind: AlertKind, site: str | None, details: dict[str, Any]) -> None:
        if kind in self._wanted:
            self._emit(Alert(kind, self._run_dir, site, time.time(), details))

    def site(self, health: SiteHealth) -> None:
        """A site's health or named state changed."""
        down = not health.healthy or health.state == STOPPED
        with self._lock:
            since = self._down_since.get(health.site)
            if down and since is None:
                self._down_since[health.site] = time.monotonic()
                details = {"state": health.state, "reason": health.reason}
                self._alert(AlertKind.site_lost, health.site, details)
            elif not down and since is not None and health.state in BACK_STATES:
                del self._down_since[health.site]
                down_s = round(time.monotonic() - since, 3)
                self._alert(
                    AlertKind.site_back, health.site, {"state": health.state, "down_s": down_s}
                )

    def attempt_ended(self, site: str, site_failed: bool) -> None:
        """An attempt on ``site`` ended with a value (``site_failed`` False) or a site
        failure."""
        size, threshold = self._config.failure_window, self._config.failure_rate
        with self._lock:
            window = self._windows.setdefault(site, deque(maxlen=size))
            window.append(site_failed)
            if len(window) < size:
                return
            failed = sum(window)
            rate = failed / size
            if rate <= threshold:
                self._over.discard(site)
            elif site not in self._over:
                self._over.add(site)
                details = {
                    "rate": round(rate, 4),
                    "threshold": threshold,
                    "failed": failed,
                    "attempts": size,
                }
                self._alert(AlertKind.failure_rate, site, details)

    def budget(self, level: float, spent: float, budget: float, unit: str) -> None:
        """The run's estimated cost reached ``level`` (a key of :data:`BUDGET_LEVELS`) of
        its budget."""
        details = {
            "spent": round(spent, 6),
            "budget": budget,
            "unit": unit,
            "fraction": round(spent / budget, 4),
        }
        with self._lock:
            self._alert(BUDGET_LEVELS[level], None, details)

    def finished(self, totals: dict[str, Any]) -> None:
        """The run shut down with ``totals``."""
        with self._lock:
            self._alert(AlertKind.run_finished, None, totals)
