"""A run's report, computed from its journal alone (no service is contacted).

Per site: tasks placed, succeeded, failed, retries, failovers, task time (median, p95),
queue wait, batch jobs used, node-hours and cost. Where and when each attempt ran comes
from the probe's record (:mod:`chiltepin.probe`); node-hours are, per batch job,
its nodes times the span from its first task's start to its last task's end: a lower
bound of what the scheduler charges (it also counts start-up and idle time). Beside what
happened, the report keeps what late-binding placement believed of each site when the
run ended (its running estimates), so a surprising split can be traced to its cause. The
run's Academy agents, if it launched any, are listed beside the sites (:mod:`.agents`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chiltepin.client.config import FederationConfig, resolve
from chiltepin.federation.journal import read_journal
from chiltepin.federation.states import TaskState
from chiltepin.report.agents import AgentReport, agent_reports


@dataclass(frozen=True)
class Job:
    """One batch job (block) as the tasks that ran in it saw it."""

    site: str
    job: str
    nodes: int
    start: float
    end: float

    @property
    def node_hours(self) -> float:
        return self.nodes * max(0.0, self.end - self.start) / 3600


@dataclass(frozen=True)
class Interval:
    """One successful attempt's execution on its worker."""

    site: str
    start: float
    end: float


@dataclass
class SiteReport:
    site: str
    tasks: int = 0
    succeeded: int = 0
    failed: int = 0
    retries: int = 0
    failovers: int = 0
    task_seconds_median: float | None = None
    task_seconds_p95: float | None = None
    queue_wait_seconds_median: float | None = None
    jobs: int = 0
    node_hours: float = 0.0
    cost: float = 0.0
    cost_unit: str = ""


@dataclass
class RunReport:
    run_dir: str
    started: float | None
    ended: float | None
    sites: list[SiteReport]
    jobs: list[Job] = field(default_factory=list)
    intervals: list[Interval] = field(default_factory=list)
    estimates: list[dict[str, Any]] = field(default_factory=list)  # placement's beliefs
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # site → pre-flight
    agents: list[AgentReport] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_dir": self.run_dir,
            "started": self.started,
            "ended": self.ended,
            "sites": [asdict(s) for s in self.sites],
            "estimates": self.estimates,
            "versions": self.versions,
            "jobs": [{**asdict(j), "node_hours": j.node_hours} for j in self.jobs],
            "agents": [asdict(a) for a in self.agents],
        }


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def cost_rates(config: dict[str, Any], run_dir: Path) -> dict[str, tuple[float, str]]:
    """Site name → (cost per node-hour, unit), from the sites the run was started with
    (its journal's header ``config``); the report and the live dashboard price alike."""
    if not config:
        return {}
    try:
        sites = resolve(FederationConfig.model_validate(config), str(run_dir))
    except Exception:  # a site file that moved since: report without costs
        return {}
    return {n: (s.site.cost_per_node_hour, s.site.cost_unit) for n, s in sites.items()}


def build_report(run_dir: Path) -> RunReport:
    record = read_journal(run_dir)
    costs = cost_rates(record.config, record.run_dir)
    per_site: dict[str, SiteReport] = {}
    durations: dict[str, list[float]] = defaultdict(list)
    waits: dict[str, list[float]] = defaultdict(list)
    spans: dict[tuple[str, str], list[float]] = {}
    nodes: dict[tuple[str, str], int] = {}
    intervals: list[Interval] = []
    times: list[float] = []

    def site(name: str) -> SiteReport:
        return per_site.setdefault(name, SiteReport(name))

    for task in record.tasks.values():
        for attempt in task.attempts:
            site(attempt.site).tasks += 1
            times.append(attempt.submitted)
        for earlier, later in zip(task.attempts, task.attempts[1:], strict=False):
            if later.via is TaskState.RACED:  # not a retry: the earlier attempt ran on
                continue
            if later.via is TaskState.FAILED_OVER:  # its site stopped; it stood by
                site(earlier.site).failovers += 1
                continue
            site(earlier.site).retries += 1
            if later.site != earlier.site:
                site(earlier.site).failovers += 1
        outcome = task.outcome
        if outcome is None or not task.attempts:
            continue
        final = next((a for a in task.attempts if a.number == outcome.number), task.attempts[-1])
        times.append(outcome.finished)
        if not outcome.ok:
            site(final.site).failed += 1
            continue
        site(final.site).succeeded += 1
        ran = outcome.ran
        if not ran:
            continue
        durations[final.site].append(ran["end"] - ran["start"])
        waits[final.site].append(max(0.0, ran["start"] - final.submitted))
        intervals.append(Interval(final.site, ran["start"], ran["end"]))
        key = (final.site, str(ran["job"]))
        span = spans.setdefault(key, [ran["start"], ran["end"]])
        span[0], span[1] = min(span[0], ran["start"]), max(span[1], ran["end"])
        nodes[key] = max(nodes.get(key, 1), int(ran.get("nodes", 1)))

    jobs = [Job(s, j, nodes[(s, j)], a, b) for (s, j), (a, b) in sorted(spans.items())]
    for report in per_site.values():
        name = report.site
        report.task_seconds_median = _quantile(sorted(durations[name]), 0.5)
        report.task_seconds_p95 = _quantile(sorted(durations[name]), 0.95)
        report.queue_wait_seconds_median = _quantile(sorted(waits[name]), 0.5)
        site_jobs = [j for j in jobs if j.site == name]
        report.jobs = len(site_jobs)
        report.node_hours = sum(j.node_hours for j in site_jobs)
        rate, unit = costs.get(name, (0.0, ""))
        report.cost, report.cost_unit = report.node_hours * rate, unit
    return RunReport(
        run_dir=str(run_dir),
        started=min(times, default=None),
        ended=max(times, default=None),
        sites=sorted(per_site.values(), key=lambda r: r.site),
        jobs=jobs,
        intervals=intervals,
        estimates=record.estimates,
        versions=record.versions,
        agents=agent_reports(record),
    )
