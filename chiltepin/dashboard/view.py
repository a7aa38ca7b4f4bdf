"""One run as the dashboard shows it, computed from its journal a few new lines at a time.

The view keeps its place in ``journal.jsonl`` (a byte offset) and, on each
:meth:`RunView.update`, reads only the whole lines written since: a torn last line (the
writer is mid-``write``) waits for the next update. It keeps aggregates, never the lines:
per-site counts, time-bucketed running tasks and throughput (:mod:`.buckets`), batch-job
spans, the last status the run wrote, the most recent failures and events, its data
staging per source and destination (:mod:`.transfers`), its Academy agents
(:class:`~chiltepin.report.agents.Agents`, as the report lists them), per task
still unsettled its attempts' sites (what a later attempt or outcome is counted against),
and per site how many of those tasks its latest attempt is at (what the endpoints page
shows as out there now). So an update costs in proportion to what was appended, and
memory grows with what is still out, not with the run.

After reading many lines the view saves its aggregates beside the journal
(:mod:`.snapshot`), and :meth:`RunView.open` starts from them: a big run's page then costs
the lines written since, not the whole journal.

Counts follow the run report (:mod:`chiltepin.report.model`): a site's ``placed`` counts
attempts placed there; a retry counts against the site the earlier attempt failed on (a
failover too when the retry went elsewhere); a failover against the stopped site; a race
against the site it was started on. Node-hours are per batch job, its nodes times the span
from its first task's start to its last task's end, priced by the sites' cost per
node-hour as the report prices them.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chiltepin.dashboard import snapshot
from chiltepin.dashboard.buckets import Buckets
from chiltepin.dashboard.transfers import Transfers
from chiltepin.dashboard.unknown import unknown
from chiltepin.errors import ChiltepinError
from chiltepin.federation.journal import JOURNAL, RESULTS, read_blob
from chiltepin.federation.journal_format import (
    TASK,
    AgentEvent,
    AlertEvent,
    AttemptEvent,
    BadLine,
    DoneEvent,
    EstimatesEvent,
    Header,
    SiteEvent,
    StatusEvent,
    TaskEvent,
    TransferEvent,
    VersionsEvent,
    decode,
)
from chiltepin.federation.states import TaskState
from chiltepin.report.agents import Agents
from chiltepin.report.model import Job, cost_rates

FAILURES_KEPT = 20
EVENTS_KEPT = 200
ERROR_LINES = 8  # of a failure's text, shown with it
ERROR_BYTES = 4096  # of a failure's text read from results.bin
_TASK_LINE = b'{"e":"' + TASK.encode() + b'","id":"'
_THROUGHPUT = ("succeeded", "failed")
BUDGET_CHECK = 1024  # lines read between two looks at an update's time budget
#: Lines read since the last save after which the view saves its aggregates: a run this
#: big takes a second or more to read, a smaller one is read faster than it is saved.
SNAPSHOT_AFTER = 50_000
#: The view's plain attributes, saved and restored as they are.
_SCALARS = (
    *("offset", "version", "started", "updated", "ended"),
    *("tasks", "unplaced", "succeeded", "failed", "skipped"),
)


@dataclass
class SiteTally:
    """What the journal says happened at one site (attempts, by how they started and
    ended)."""

    site: str
    placed: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    failed_over: int = 0
    raced: int = 0


@dataclass(frozen=True)
class Failure:
    """A task that ended failed: where, on which attempt, and the start of its error."""

    task: str
    site: str | None  # None: refused before any site took it
    attempt: int
    kind: str
    message: str  # the error's last line (a traceback's own message)
    lines: list[str]
    at: float


@dataclass(frozen=True)
class LogEvent:
    at: float
    site: str | None
    text: str


class RunView:
    """Aggregates of one run's journal, kept up to date by :meth:`update`."""

    def __init__(self, run_dir: Path, *, snapshot_after: int = SNAPSHOT_AFTER) -> None:
        """``snapshot_after``: save the aggregates after reading that many lines (and at
        least one) since they were last saved or loaded."""
        self.run_dir = run_dir
        self.snapshot_after = snapshot_after
        self._unsaved = 0
        self.offset = 0
        self.version = 1
        self.started: float | None = None
        self.updated: float | None = None  # the latest time any line names
        self.ended = False  # the run's client shut down (and no client resumed it since)
        self.tasks = 0
        self.unplaced = 0  # submitted, no attempt yet
        self.succeeded = 0
        self.failed = 0
        self.skipped = 0  # lines that were not whole events
        self.size = 0  # the journal's length when the last update stopped reading
        self.partial = False  # the last update stopped on its time budget, not at the end
        self.sites: dict[str, SiteTally] = {}
        self.status: StatusEvent | None = None
        self.failures: deque[Failure] = deque(maxlen=FAILURES_KEPT)
        self.events: deque[LogEvent] = deque(maxlen=EVENTS_KEPT)
        self.buckets: Buckets | None = None
        self.transfers = Transfers()
        self.agents = Agents()
        # Each unsettled task's attempts, (number, site) in the order they started.
        self._open: dict[str, list[tuple[int, str]]] = {}
        self._jobs: dict[tuple[str, str], list[float]] = {}  # (site, job) → start, end, nodes
        self._rates: dict[str, tuple[float, str]] = {}
        self._health: dict[str, tuple[bool, str | None]] = {}  # site → (healthy, state)
        self._endpoints: dict[str, str] = {}  # endpoint site → its endpoint id (the header's)
        self._out: dict[str, int] = {}  # site → unsettled tasks whose latest attempt is there
        self._lock = threading.Lock()

    @classmethod
    def open(cls, run_dir: Path, *, snapshot_after: int = SNAPSHOT_AFTER) -> RunView:
        """The view of ``run_dir`` from its saved aggregates when they still match its
        journal (not yet updated: :meth:`update` reads what was written past them)."""
        view = cls(run_dir, snapshot_after=snapshot_after)
        state = snapshot.load(run_dir)
        if state is not None:
            view._restore(state)
        return view

    # -- reading ------------------------------------------------------------------------

    def update(self, budget_s: float | None = None) -> int:
        """Read the whole lines appended since the last update; return how many. Save
        the aggregates once :attr:`snapshot_after` lines (and as many as there are tasks
        still out) were read since the last save.

        Args:
            budget_s: stop reading after about this many seconds (None: read to the end).
                A page asks with a budget, so a big journal read for the first time shows
                what was read so far within a second and the rest over the next polls
                (:attr:`partial` says it is not all there yet).
        """
        with self._lock:
            path = self.run_dir / JOURNAL
            read = 0
            stop_at = None if budget_s is None else time.monotonic() + budget_s
            partial = False  # set once the read is over: a reader never sees it half-way
            with path.open("rb") as f:
                f.seek(self.offset)
                for raw in f:
                    if not raw.endswith(b"\n"):  # torn: its writer is not done with it
                        break
                    self.offset += len(raw)
                    read += 1
                    self._line(raw)
                    if read % BUDGET_CHECK == 0 and stop_at and time.monotonic() > stop_at:
                        partial = True
                        break
                self.size = max(self.offset, os.fstat(f.fileno()).st_size)
            self.partial = partial
            self._unsaved += read
            # A save costs in proportion to the tasks still out: saving no more often than
            # that many lines keeps its cost per line read bounded.
            if self._unsaved and self._unsaved >= max(self.snapshot_after, len(self._open)):
                snapshot.save(self.run_dir, self._state())
                self._unsaved = 0  # an unwritable run directory is not tried again soon
            return read

    # -- saving -------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        """Everything the view has read, as JSON-ready values (see :mod:`.snapshot`)."""
        return {
            **{name: getattr(self, name) for name in _SCALARS},
            "sites": [asdict(t) for t in self.sites.values()],
            "status": self.status.event() if self.status else None,
            "failures": [asdict(f) for f in self.failures],
            "events": [asdict(e) for e in self.events],
            "buckets": self.buckets.state() if self.buckets else None,
            "transfers": self.transfers.state(),
            "agents": self.agents.state(),
            "open": self._open,
            "jobs": [[*key, *span] for key, span in self._jobs.items()],
            "rates": self._rates,
            "health": self._health,
            "endpoints": self._endpoints,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        """Take up the view :meth:`_state` saved."""
        for name in _SCALARS:
            setattr(self, name, state[name])
        self.sites = {t["site"]: SiteTally(**t) for t in state["sites"]}
        self.status = StatusEvent.of(state["status"]) if state["status"] else None
        self.failures.extend(Failure(**f) for f in state["failures"])
        self.events.extend(LogEvent(**e) for e in state["events"])
        self.buckets = Buckets.of(state["buckets"]) if state["buckets"] else None
        self.transfers = Transfers.of(state["transfers"])
        self.agents = Agents.of(state["agents"])
        self._open = {k: [(n, site) for n, site in v] for k, v in state["open"].items()}
        self._jobs = {(site, job): span for site, job, *span in state["jobs"]}
        self._rates = {k: (rate, unit) for k, (rate, unit) in state["rates"].items()}
        self._health = {k: (ok, named) for k, (ok, named) in state["health"].items()}
        self._endpoints = dict(state["endpoints"])
        for attempts in self._open.values():  # derived, so not saved
            if attempts:
                self._move_out(None, attempts[-1][1])

    def _line(self, raw: bytes) -> None:
        if raw.startswith(_TASK_LINE):  # a task as submitted: only its id matters here
            start = len(_TASK_LINE)
            end = raw.find(b'"', start)
            if end < 0 or not raw.rstrip().endswith(b"}"):
                self.skipped += 1
                return
            self._task(raw[start:end].decode(errors="replace"))
            return
        if not raw.strip():
            return
        try:
            event = decode(raw, self.version)
        except BadLine:
            self.skipped += 1
            return
        if isinstance(event, AttemptEvent):
            self._attempt(event)
        elif isinstance(event, DoneEvent):
            self._done(event)
        elif isinstance(event, StatusEvent):
            self._status(event)
        elif isinstance(event, TransferEvent):
            self._seen(event.at)
            self.transfers.add(event)
        elif isinstance(event, AgentEvent):
            self._agent(event)
        elif isinstance(event, TaskEvent):  # a format-1 task line
            self._task(event.id)
        elif isinstance(event, Header):
            self._header(event)
        elif isinstance(event, EstimatesEvent):
            self.ended = True
            self._log(None, "run ended: its client shut down")
        elif isinstance(event, SiteEvent):
            self._seen(event.at or None)
            state = f" ({event.state})" if event.state else ""
            said = "back" if event.healthy else f"lost: {event.reason}"
            self._log(event.site, f"{said}{state}")
        elif isinstance(event, AlertEvent):
            self._seen(event.at)
            self._log(event.site, f"alert sent: {event.kind}")
        elif isinstance(event, VersionsEvent):
            told = ", ".join(f"{k} {v}" for k, v in sorted(event.versions.items()) if v)
            self._log(event.site, f"pre-flight: workers run {told}")

    def _seen(self, t: float | None) -> None:
        if t is not None and (self.updated is None or t > self.updated):
            self.updated = t

    def _log(self, site: str | None, text: str) -> None:
        self.events.append(LogEvent(self.updated or 0.0, site, text))

    def _site(self, name: str) -> SiteTally:
        tally = self.sites.get(name)
        if tally is None:
            tally = self.sites[name] = SiteTally(name)
        return tally

    def _header(self, event: Header) -> None:
        self.version = event.version
        self._seen(event.started)
        resumed = self.started is not None
        if not resumed:
            self.started = event.started
            self.buckets = Buckets(event.started)
            self._rates = cost_rates(event.config, self.run_dir)
            for name in event.config.get("sites") or {}:
                self._site(name)
        for name, entry in (event.config.get("sites") or {}).items():
            if isinstance(entry, dict) and entry.get("endpoint_id"):
                self._endpoints[name] = str(entry["endpoint_id"])  # a resume may name more
        self.ended = False
        self._log(None, "run resumed by a new client" if resumed else "run started")

    def _task(self, task_id: str) -> None:
        self.tasks += 1
        self.unplaced += 1
        self._open[task_id] = []

    def _attempt(self, event: AttemptEvent) -> None:
        attempts = self._open.get(event.id)
        if attempts is None:  # a task never submitted, or already settled: not counted
            return
        self._seen(event.submitted)
        if not attempts:
            self.unplaced -= 1
        self._site(event.site).placed += 1
        if event.via is TaskState.RACED:
            self._site(event.site).raced += 1
        elif attempts:
            earlier = self._site(attempts[-1][1])
            if event.via is TaskState.FAILED_OVER:
                earlier.failed_over += 1
                self._log(earlier.site, f"{event.id} failed over to {event.site}")
            else:
                earlier.retried += 1
                if earlier.site != event.site:
                    earlier.failed_over += 1
        self._move_out(attempts[-1][1] if attempts else None, event.site)
        attempts.append((event.number, event.site))
        self.agents.ran(event.id, event.site)

    def _agent(self, event: AgentEvent) -> None:
        """An agent launched or its launch ended. Its task's attempt may be journalled
        before its launch line (the federation places the task as it is submitted), so
        the site it is on now is taken from the task's attempts still open."""
        self._seen(event.at)
        attempts = self._open.get(event.task)
        self.agents.add(event, attempts[-1][1] if attempts else None)

    def _move_out(self, was: str | None, now: str | None) -> None:
        """A task's latest attempt moved from site ``was`` to ``now`` (None: none)."""
        if was is not None:
            self._out[was] -= 1
        if now is not None:
            self._out[now] = self._out.get(now, 0) + 1

    def _done(self, event: DoneEvent) -> None:
        attempts = self._open.pop(event.id, None)
        if attempts is None:
            return
        self._seen(event.finished)
        if not attempts:
            self.unplaced -= 1
        else:
            self._move_out(attempts[-1][1], None)
        site = next((s for n, s in attempts if n == event.number), None)
        if site is None and attempts:
            site = attempts[-1][1]
        if event.ok:
            self.succeeded += 1
        else:
            self.failed += 1
            self.failures.append(self._failure(event, site))
        if site is not None:
            tally = self._site(site)
            if event.ok:
                tally.succeeded += 1
            else:
                tally.failed += 1
        if self.buckets is not None:
            self.buckets.add(_THROUGHPUT[not event.ok], event.finished)
        ran = event.ran
        if not (event.ok and ran and site is not None):
            return
        start, end = ran.get("start"), ran.get("end")
        if start is None or end is None:
            return
        if self.buckets is not None:
            self.buckets.add_span(f"site:{site}", start, end)
        span = self._jobs.setdefault((site, str(ran.get("job"))), [start, end, 1])
        span[0], span[1] = min(span[0], start), max(span[1], end)
        span[2] = max(span[2], int(ran.get("nodes") or 1))

    def _failure(self, event: DoneEvent, site: str | None) -> Failure:
        head, tail = self._error_text(event)
        lines = head.splitlines()
        message = next((s for s in reversed(tail.splitlines()) if s.strip()), event.kind)
        return Failure(
            event.id, site, event.number, event.kind, message, lines[:ERROR_LINES], event.finished
        )

    def _error_text(self, event: DoneEvent) -> tuple[str, str]:
        """A failure's text: its start and its end (a long traceback's own message is on
        its last line), reading at most :data:`ERROR_BYTES` of each from results.bin."""
        stored = event.stored
        if stored.inline is not None:
            return stored.inline, stored.inline
        assert stored.at is not None
        offset, length = stored.at
        path = self.run_dir / RESULTS
        size = min(length, ERROR_BYTES)
        try:
            head = read_blob(path, (offset, size)).decode(errors="replace")
            tail = read_blob(path, (offset + length - size, size)).decode(errors="replace")
        except (OSError, ChiltepinError) as err:  # results.bin moved or cut short
            text = f"(its text could not be read: {err})"
            return text, text
        return head, tail

    def _status(self, event: StatusEvent) -> None:
        """Keep the run's last status; log each site's moves between health states
        (an endpoint's named state when it has one: offline, stopped, lost, …)."""
        self._seen(event.at)
        self.status = event
        for s in event.sites:
            self._site(s.site)
            now = (s.healthy, s.state)
            was = self._health.get(s.site)
            self._health[s.site] = now
            if was == now or (was is None and s.healthy):
                continue
            if not s.healthy:
                self._log(s.site, f"{s.state or 'lost'}: {s.reason}")
            elif was is not None and not was[0]:
                self._log(s.site, "back" if s.state in (None, "online") else f"back ({s.state})")
            else:
                self._log(s.site, f"now {s.state}")

    # -- what the page shows ----------------------------------------------------------------

    def jobs(self) -> list[Job]:
        return [
            Job(site, job, int(nodes), start, end)
            for (site, job), (start, end, nodes) in sorted(self._jobs.items())
        ]

    def counts(self) -> dict[str, int]:
        """The run's tasks by what the journal says of them."""
        with self._lock:
            return {
                "tasks": self.tasks,
                "held": self.unplaced,
                "pending": len(self._open) - self.unplaced,
                "succeeded": self.succeeded,
                "failed": self.failed,
            }

    def endpoint_sites(self) -> dict[str, str]:
        """The run's endpoint sites, by name, each with its endpoint id (from the sites
        the run was started or resumed with)."""
        with self._lock:
            return dict(self._endpoints)

    def out(self) -> dict[str, int]:
        """Per site, the unsettled tasks whose latest attempt was placed there."""
        with self._lock:
            return {site: n for site, n in self._out.items() if n}

    def transfer_rows(self) -> list[dict[str, Any]]:
        """Per direction, source and destination: the staging batches that ended, ok or
        failed, the pairs, files and bytes they carried, and the pairs in flight."""
        with self._lock:
            return self.transfers.rows()

    def _sites(self) -> list[dict[str, Any]]:
        hours: dict[str, float] = {}
        for job in self.jobs():
            hours[job.site] = hours.get(job.site, 0.0) + job.node_hours
        live = {s.site: s for s in self.status.sites} if self.status else {}
        out = []
        for name, tally in sorted(self.sites.items()):
            rate, unit = self._rates.get(name, (0.0, ""))
            status = live.get(name)
            out.append(
                {
                    **asdict(tally),
                    "node_hours": hours.get(name, 0.0),
                    "cost": hours.get(name, 0.0) * rate,
                    "cost_unit": unit,
                    "status": asdict(status) if status else None,
                    "unknown": unknown(status),
                }
            )
        return out

    def site_rows(self) -> list[dict[str, Any]]:
        """Per site: its tallies, node-hours and cost so far, the run's last word on it
        (``status``, None before the run wrote any), and why any of its live counts are
        unknown (``unknown``, by the page's column; see :mod:`.unknown`)."""
        with self._lock:
            return self._sites()

    def _cost(self, sites: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "node_hours": sum(s["node_hours"] for s in sites),
            "spent": sum(s["cost"] for s in sites),
            "unit": next((s["cost_unit"] for s in sites if s["cost_unit"]), ""),
            "budget": self.status.budget if self.status else None,
        }

    def cost(self) -> dict[str, Any]:
        """Node-hours and cost so far (priced as the report prices them), and the budget."""
        with self._lock:
            return self._cost(self._sites())

    def _series(self) -> dict[str, Any]:
        buckets = self.buckets
        if buckets is None:
            empty: dict[str, list[float]] = {n: [] for n in _THROUGHPUT}
            return {"origin": None, "width_s": None, "running": {}, "throughput": empty}
        length = buckets.length
        sites = [n for n in buckets.names() if n.startswith("site:")]
        return {
            "origin": buckets.origin,
            "width_s": buckets.width,
            "running": {n.removeprefix("site:"): buckets.rates(n, length) for n in sites},
            "throughput": {n: buckets.rates(n, length) for n in _THROUGHPUT},
        }

    def as_dict(self) -> dict[str, Any]:
        """Everything the run page draws, as JSON-ready values."""
        counts = self.counts()
        with self._lock:
            sites = self._sites()
            status = self.status
            return {
                "run": self.run_dir.name,
                "started": self.started,
                "updated": self.updated,
                "ended": self.ended,
                "counts": counts,
                "states": dict(status.states) if status else {},
                "held_on_client": status.held if status else None,
                "status_at": status.at if status else None,
                "sites": sites,
                "cost": self._cost(sites),
                "series": self._series(),
                "jobs": [{**asdict(j), "node_hours": j.node_hours} for j in self.jobs()],
                "failures": [asdict(f) for f in reversed(self.failures)],
                "transfers": self.transfers.rows(),
                "agents": [asdict(row) for row in self.agents.rows()],
                "events": [asdict(e) for e in reversed(self.events)],
                "skipped_lines": self.skipped,
                "journal": {
                    "read": self.offset,
                    "size": max(self.size, self.offset),
                    "partial": self.partial,
                },
            }
