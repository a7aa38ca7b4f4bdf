"""The run's Academy agents as the report and the dashboard show them, from their journal
lines alone.

Each agent (:class:`~chiltepin.federation.journal_format.AgentEvent`, by Academy's agent
id) gets one row: its class, the site its latest launch was pinned to, the site that
launch ran on (its federation task's latest attempt), how many times it was launched (more
than one: it moved to a fallback site when its site was lost, or Academy restarted it
after a failure) and how its latest launch stands: ``running`` when
the journal ends with it launched (a live run, or a client killed under it), else
``ended`` or ``failed`` with the error's first line.

:class:`Agents` builds the rows one event at a time, so the report (a whole journal read
at once, :func:`agent_reports`) and the dashboard's view (a journal read a few lines at a
time, :mod:`chiltepin.dashboard.view`) read the agent lines the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

from chiltepin.federation.journal import RunRecord
from chiltepin.federation.journal_format import AgentEvent

#: How an agent's latest launch stands, in the order ``run status`` counts them.
STATES = ("running", "ended", "failed")


@dataclass
class AgentReport:
    agent: str
    name: str
    site: str | None
    ran_on: str | None
    launches: int
    state: str
    error: str | None = None


class Agents:
    """The agents' rows, fed their journal events in the order written."""

    def __init__(self) -> None:
        self._rows: dict[str, AgentReport] = {}
        # Each agent's latest launch's task → the agent: a later attempt of that task
        # moves where the agent runs (a reader that sees attempts after the launch).
        self._latest: dict[str, str] = {}

    def add(self, event: AgentEvent, ran_on: str | None) -> None:
        """Take ``event`` in; ``ran_on``: the site of its task's latest attempt as far as
        the reader knows (None: none known, the row keeps the site it had)."""
        row = self._rows.setdefault(
            event.agent, AgentReport(event.agent, event.name, event.site, None, 0, "running")
        )
        row.launches = max(row.launches, event.launch)
        row.site = event.site or row.site
        row.ran_on = ran_on or row.ran_on
        row.state = "running" if event.state == "launched" else event.state
        row.error = event.error
        self._latest = {t: a for t, a in self._latest.items() if a != event.agent}
        self._latest[event.task] = event.agent

    def ran(self, task: str, site: str) -> None:
        """An attempt of ``task`` was placed on ``site``: where its agent now runs, if it
        is an agent's latest launch's task (else nothing)."""
        agent = self._latest.get(task)
        if agent is not None:
            self._rows[agent].ran_on = site

    def rows(self) -> list[AgentReport]:
        """One row per agent (copies), in the order they were first launched."""
        return [replace(row) for row in self._rows.values()]

    def states(self) -> dict[str, int]:
        """How many agents stand in each state that any stands in, in :data:`STATES`'
        order."""
        counts = Counter(row.state for row in self._rows.values())
        return {state: counts[state] for state in STATES if counts[state]}

    def state(self) -> dict[str, Any]:
        """What :meth:`of` takes up again, as JSON-ready values (a saved dashboard view)."""
        return {"rows": [asdict(row) for row in self._rows.values()], "latest": self._latest}

    @classmethod
    def of(cls, state: dict[str, Any]) -> Agents:
        agents = cls()
        agents._rows = {row["agent"]: AgentReport(**row) for row in state["rows"]}
        agents._latest = dict(state["latest"])
        return agents


def agent_reports(record: RunRecord) -> list[AgentReport]:
    """One row per agent, in the order they were first launched."""
    agents = Agents()
    for event in record.agents:
        task = record.tasks.get(event.task)
        agents.add(event, task.attempts[-1].site if task is not None and task.attempts else None)
    return agents.rows()


def agent_states(events: Iterable[AgentEvent]) -> dict[str, int]:
    """How many agents stand in each state after ``events`` (``chiltepin run status``:
    where they ran is not needed, so no task line is read)."""
    agents = Agents()
    for event in events:
        agents.add(event, None)
    return agents.states()
