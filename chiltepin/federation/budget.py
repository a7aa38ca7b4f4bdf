"""A cost ceiling for a run: stop submitting new work before the estimate passes it.

Cost is estimated as the report computes it: per batch job, nodes times the span of the
tasks seen running in it, times the site's cost per node-hour. Before each new task the
meter asks whether the cost so far plus one more average task would pass the budget; if
so the task is refused with :class:`BudgetExceeded` (tasks already running finish).

The meter also says when spending reaches each of :data:`LEVELS` of the budget (once
each, to :attr:`CostMeter.on_level`), for the run's alerts: the estimate reaching it, or
for the last level (the whole budget), the first task refused, whichever comes first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from chiltepin.errors import ChiltepinError

log = logging.getLogger(__name__)
LEVELS = (0.8, 1.0)  # fractions of the budget whose reaching is told


class BudgetExceeded(ChiltepinError):
    """A task was not submitted because the run's estimated cost would pass its budget."""


class CostMeter:
    def __init__(self, budget: float, rates: Mapping[str, float], unit: str) -> None:
        self.budget = budget
        self.unit = unit
        self._rates = dict(rates)
        self._jobs: dict[tuple[str, str], list[float]] = {}
        self._completed = 0
        self._lock = threading.Lock()
        self.refused = 0
        self._levels = list(LEVELS)  # not reached yet, lowest first
        # Told (level, spent) once as spending reaches each level.
        self.on_level: Callable[[float, float], None] = lambda level, spent: None

    def record(self, site: str, ran: Mapping[str, Any]) -> None:
        """Account one finished attempt's probe record."""
        with self._lock:
            key = (site, str(ran["job"]))
            span = self._jobs.setdefault(key, [ran["start"], ran["end"], ran.get("nodes", 1)])
            span[0], span[1] = min(span[0], ran["start"]), max(span[1], ran["end"])
            self._completed += 1
        self._reached(self.spent)

    def _reached(self, spent: float, *, refused: bool = False) -> None:
        """Tell each level ``spent`` reached; a refused task reaches the last level (the
        budget is reached when no new task fits, even with the estimate short of it)."""
        with self._lock:
            reached = [
                lv
                for lv in self._levels
                if spent >= lv * self.budget or (refused and lv == LEVELS[-1])
            ]
            self._levels = [lv for lv in self._levels if lv not in reached]
        for level in reached:
            self.on_level(level, spent)

    @property
    def spent(self) -> float:
        with self._lock:
            return sum(
                nodes * max(0.0, end - start) / 3600 * self._rates.get(site, 0.0)
                for (site, _), (start, end, nodes) in self._jobs.items()
            )

    def admit(self) -> None:
        """Raise :class:`BudgetExceeded` if one more average task would pass the budget."""
        spent = self.spent
        average = spent / self._completed if self._completed else 0.0
        if spent + average <= self.budget:
            return
        with self._lock:
            self.refused += 1
            first = self.refused == 1
        message = (
            f"budget of {self.budget:g} {self.unit} reached (estimated {spent:.4g} {self.unit}"
            " spent): no new tasks are submitted"
        )
        if first:
            log.warning(message)
            self._reached(spent, refused=True)
        raise BudgetExceeded(message)


def meter_for(budget: float, sites: Mapping[str, Any]) -> CostMeter:
    """A meter over resolved sites; they must state cost in one unit to share a budget."""
    units = {s.site.cost_unit for s in sites.values()}
    if len(units) > 1:
        listed = ", ".join(sorted(units))
        raise ChiltepinError(f"a budget needs every site's cost in one unit; sites use {listed}")
    rates = {name: s.site.cost_per_node_hour for name, s in sites.items()}
    return CostMeter(budget, rates, units.pop() if units else "")
