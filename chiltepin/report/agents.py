"""The run's Academy agents as the report shows them, from their journal lines alone.

Each agent (:class:`~chiltepin.federation.journal_format.AgentEvent`, by Academy's agent
id) gets one row: its class, the site its latest launch was pinned to, the site that
launch ran on (its federation task's latest attempt), how many times it was launched (more
than one: it moved to a fallback site when its site was lost, or Academy restarted it
after a failure) and how its latest launch stands: ``running`` when
the journal ends with it launched (a live run, or a client killed under it), else
``ended`` or ``failed`` with the error's first line.
"""

from __future__ import annotations

from dataclasses import dataclass

from chiltepin.federation.journal import RunRecord


@dataclass
class AgentReport:
    agent: str
    name: str
    site: str | None
    ran_on: str | None
    launches: int
    state: str
    error: str | None = None


def agent_reports(record: RunRecord) -> list[AgentReport]:
    """One row per agent, in the order they were first launched."""
    rows: dict[str, AgentReport] = {}
    for event in record.agents:
        task = record.tasks.get(event.task)
        ran_on = task.attempts[-1].site if task is not None and task.attempts else None
        row = rows.setdefault(
            event.agent, AgentReport(event.agent, event.name, event.site, None, 0, "running")
        )
        row.launches = max(row.launches, event.launch)
        row.site = event.site or row.site
        row.ran_on = ran_on or row.ran_on
        row.state = "running" if event.state == "launched" else event.state
        row.error = event.error
    return list(rows.values())
