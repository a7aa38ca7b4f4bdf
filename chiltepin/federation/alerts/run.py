"""A run's alerts wired to the parts that raise them.

The rules (:mod:`~chiltepin.federation.alerts.rules`) hear of site health from the
federation, of each attempt's end from the :class:`~chiltepin.federation.conductor.Conductor`,
and of budget levels from the cost meter; each alert they raise is delivered by the
sender and journalled, so the run's readers (the dashboard's event log) see it too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chiltepin.client.config import AlertsConfig
from chiltepin.federation.alerts.payload import Alert
from chiltepin.federation.alerts.rules import AlertRules
from chiltepin.federation.alerts.sender import AlertSender
from chiltepin.federation.backends import SiteHealth
from chiltepin.federation.budget import CostMeter
from chiltepin.federation.conductor import Conductor
from chiltepin.federation.journal import Journal
from chiltepin.federation.states import TaskState
from chiltepin.federation.stats import SiteCounts


class RunAlerts:
    """One run's alert rules and sender."""

    def __init__(
        self,
        config: AlertsConfig,
        run_dir: Path,
        journal: Journal,
        conductor: Conductor,
        cost: CostMeter | None,
    ) -> None:
        """``config`` says where alerts go and which; ``journal`` records each one;
        ``conductor`` and ``cost`` are hooked so attempts and budget levels reach the
        rules."""
        self._journal = journal
        self._sender = AlertSender(config.webhook, config.command, timeout_s=config.timeout_s)
        self.rules = AlertRules(config, run_dir, self._alerted)
        conductor.on_attempt_ended = self.rules.attempt_ended
        if cost is not None:
            cost.on_level = lambda level, spent: self.rules.budget(
                level, spent, cost.budget, cost.unit
            )

    def _alerted(self, alert: Alert) -> None:
        self._sender.send(alert)
        self._journal.alert(alert.kind.value, alert.site, alert.details, alert.at)

    def site(self, health: SiteHealth) -> None:
        """A site's health or named state changed."""
        self.rules.site(health)

    def finished(self, totals: dict[str, Any]) -> None:
        """The run ends: send ``run_finished`` and wait one delivery timeout at most."""
        self.rules.finished(totals)
        self._sender.close()


def run_totals(
    states: Mapping[TaskState, int], sites: Sequence[SiteCounts], cost: CostMeter | None
) -> dict[str, Any]:
    """The run's totals, as the ``run_finished`` alert carries them."""
    totals: dict[str, Any] = {
        "tasks": sum(states.values()),
        "succeeded": states[TaskState.SUCCEEDED],
        "failed": states[TaskState.FAILED],
        "cancelled": states[TaskState.CANCELLED],
        "sites": {
            c.site: {
                "tasks": c.tasks,
                "succeeded": c.succeeded,
                "failed": c.failed,
                "retries": c.retries,
                "failovers": c.failovers,
            }
            for c in sites
        },
    }
    if cost is not None:
        totals |= {"spent": round(cost.spent, 6), "unit": cost.unit}
    return totals
