"""The dashboard's endpoints page: each endpoint's status and the tasks this machine's runs
have on it (what globus-compute issue 154 asks: an endpoint's tasks, listed).

The endpoints are the endpoint sites of the sites file the dashboard is given
(``chiltepin dashboard --sites``), in its order, then any other endpoint a run under the
dashboard's root names in the sites it was started with. An endpoint is one endpoint id:
two runs that call it by different site names count on one row.

Its tasks come from the runs' cached views (:class:`~chiltepin.dashboard.view.RunView`),
the same per-site tallies the run page shows: placed, succeeded, failed; and, of a live
run, how many unsettled tasks are out there now (their latest attempt went there).

Its status is a live run's own word when the run wrote it within
:data:`~chiltepin.dashboard.endpoint_status.FRESH_S` (the run polls it anyway, so reading
it costs no request); otherwise the service is asked by the
:class:`~chiltepin.dashboard.endpoint_status.StatusPoller`, sparingly and only while the
page is looked at.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chiltepin.client.config import SiteKind, load_config
from chiltepin.dashboard.endpoint_status import FRESH_S, Reading, StatusPoller
from chiltepin.dashboard.runs import Runs, RunState, UnknownRun, run_state
from chiltepin.dashboard.view import RunView

#: A run's named endpoint state (``EndpointState``) as the page's four; a state not here
#: (unknown, version-mismatch) says nothing of the endpoint itself, so the service is asked.
_RUN_STATES = {
    "online": "online",
    "returned": "online",
    "offline": "offline",
    "silent": "offline",
    "lost": "offline",
    "stopped": "stopped",
}


@dataclass(frozen=True)
class Configured:
    """An endpoint site of the user's sites file: its name there and its endpoint id."""

    name: str
    endpoint_id: str


def configured_endpoints(sites_file: Path | None) -> list[Configured]:
    """The endpoint sites of ``sites_file`` (validated as every sites file is; its errors
    name the file and key), in its order; none without one."""
    if sites_file is None:
        return []
    config = load_config(sites_file)
    return [
        Configured(name, str(entry.endpoint_id))
        for name, entry in config.sites.items()
        if entry.kind is SiteKind.endpoint
    ]


@dataclass
class _Row:
    endpoint_id: str
    names: list[str] = field(default_factory=list)
    configured: bool = False
    status: Reading | None = None
    out: int = 0
    placed: int = 0
    succeeded: int = 0
    failed: int = 0
    runs: list[dict[str, Any]] = field(default_factory=list)

    def named(self, name: str) -> None:
        if name not in self.names:
            self.names.append(name)


class Endpoints:
    """The endpoints page's data over ``runs``: the ``configured`` endpoints and those the
    runs name, each with its status (``poller``) and its tasks."""

    def __init__(
        self, runs: Runs, configured: list[Configured], poller: StatusPoller | None = None
    ) -> None:
        self.runs = runs
        self.configured = configured
        self.poller = poller or StatusPoller()

    def document(self, now: float | None = None) -> dict[str, Any]:
        """What the page draws; asking for it is what keeps the poller asking."""
        now = time.time() if now is None else now
        rows: dict[str, _Row] = {}
        for c in self.configured:
            row = rows.setdefault(c.endpoint_id, _Row(c.endpoint_id, configured=True))
            row.named(c.name)
        for name in self.runs.names():
            try:
                view = self.runs.view(name)
            except (UnknownRun, OSError):  # removed since it was listed
                continue
            self._count(view, run_state(view, now), rows, now)
        stale = [e for e, row in rows.items() if row.status is None]
        self.poller.want(stale)
        readings = self.poller.readings()
        for endpoint_id in stale:
            rows[endpoint_id].status = readings.get(endpoint_id)
        return {
            "endpoints": [
                {**asdict(row), "status": asdict(row.status) if row.status else None}
                for row in rows.values()
            ],
            "limits": {
                "request_every_s": self.poller.request_every_s,
                "endpoint_every_s": self.poller.endpoint_every_s,
            },
        }

    @staticmethod
    def _count(view: RunView, state: RunState, rows: dict[str, _Row], now: float) -> None:
        """Add one run's tasks on its endpoint sites to their rows, and its fresh word on
        their status."""
        endpoints = view.endpoint_sites()
        if not endpoints:
            return
        tallies = {row["site"]: row for row in view.site_rows()}
        live = state is RunState.LIVE
        out = view.out() if live else {}
        status = view.status
        fresh = live and status is not None and now - status.at < FRESH_S
        said = {s.site: s for s in status.sites} if fresh and status else {}
        per_endpoint: dict[str, dict[str, Any]] = {}
        for site, endpoint_id in endpoints.items():
            row = rows.setdefault(endpoint_id, _Row(endpoint_id))
            row.named(site)
            tally = tallies.get(site, {})
            counts = {
                "out": out.get(site, 0),
                **{k: int(tally.get(k, 0)) for k in ("placed", "succeeded", "failed")},
            }
            for key, value in counts.items():
                setattr(row, key, getattr(row, key) + value)
            entry = per_endpoint.setdefault(
                endpoint_id,
                {"run": view.run_dir.name, "state": state.value, "sites": [], "out": 0}
                | {"placed": 0, "succeeded": 0, "failed": 0},
            )
            entry["sites"].append(site)
            for key, value in counts.items():
                entry[key] += value
            told = said.get(site)
            named = _RUN_STATES.get(told.state or "") if told else None
            if told is None or named is None or status is None:
                continue
            if row.status is None or (row.status.at or 0.0) < status.at:  # the newest run's
                source = f"run {view.run_dir.name}"
                row.status = Reading(named, told.workers, told.idle, status.at, source)
        for endpoint_id, entry in per_endpoint.items():
            rows[endpoint_id].runs.append(entry)
