"""The runs a dashboard serves: the run directories directly under one root, each with its
:class:`~chiltepin.dashboard.view.RunView`, and whether it is live, finished or killed.

A run is **finished** when its journal's last client shut down (the run's closing
estimates line, after its last header). Otherwise it is **live** when its client is still
there: the last status line names a process on this host that is still running and
started before the run did (so a reused process id does not count), or the journal grew
within :data:`LIVE_S` (a client on another host sharing the directory). Anything else is
**killed**: its client died without shutting down (``chiltepin run resume`` picks it up).
A run whose journal is still being read for the first time (a big one, a budget of reading
per request at a time) is **reading** until the view has caught up with it.
A live run writes a status line about once a second while anything changes, and nothing
while idle, which is why a quiet journal alone does not make a run killed.

Only a name that is one plain path component of a directory directly under the root, with
a journal, is ever opened: no other path on the machine is reachable through a run name.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from enum import Enum
from pathlib import Path
from typing import Any

import psutil

from chiltepin.dashboard.view import RunView
from chiltepin.federation.journal import JOURNAL

LIVE_S = 10.0
#: Seconds one request may spend reading a journal: a big run's page first shows what
#: was read within it, and each later poll reads on (docs: RunView.update).
READ_BUDGET_S = 0.5
CATCH_UP_PAUSE_S = 0.01  # between two budgets of reading on: a request takes the lock then
log = logging.getLogger(__name__)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


class RunState(str, Enum):
    LIVE = "live"
    FINISHED = "finished"
    KILLED = "killed"
    READING = "reading"  # its journal is still being read for the first time


def _client_running(pid: int, host: str, started: float | None) -> bool:
    if not pid or host != socket.gethostname():
        return False
    try:
        created = psutil.Process(pid).create_time()
    except psutil.Error:
        return False
    return started is None or created <= started + 1.0


def run_state(view: RunView, now: float | None = None) -> RunState:
    """See the module's doc for the rule."""
    if view.partial:
        return RunState.READING
    if view.ended:
        return RunState.FINISHED
    status = view.status
    if status is not None and _client_running(status.pid, status.host, view.started):
        return RunState.LIVE
    try:
        grown = (view.run_dir / JOURNAL).stat().st_mtime
    except OSError:
        return RunState.KILLED
    return RunState.LIVE if (now or time.time()) - grown <= LIVE_S else RunState.KILLED


def document(view: RunView) -> dict[str, Any]:
    """What a run's page draws: the view and the run's state. The server sends it, a saved
    report (:mod:`chiltepin.dashboard.export`) embeds it."""
    return {**view.as_dict(), "state": run_state(view).value}


class UnknownRun(LookupError):
    """No run of that name under the root (or a name that is no plain run name)."""


class Runs:
    """The run directories under ``root``, each read incrementally on request; with
    ``only``, that one run alone (:func:`chiltepin.dashboard.watch` shows one run and none
    of its neighbours)."""

    def __init__(self, root: Path, *, only: str | None = None) -> None:
        self.root = root.expanduser().resolve()
        self.only = only
        self._views: dict[str, RunView] = {}
        self._catching_up: set[str] = set()  # views read on by a thread of their own
        self._lock = threading.Lock()

    def _shown(self, name: str) -> bool:
        return bool(_NAME.fullmatch(name)) and self.only in (None, name)

    def _dir(self, name: str) -> Path:
        if not self._shown(name) or name in (".", ".."):
            raise UnknownRun(name)
        run_dir = self.root / name
        if run_dir.is_symlink() or not (run_dir / JOURNAL).is_file():
            raise UnknownRun(name)
        return run_dir

    def view(self, name: str, budget_s: float | None = READ_BUDGET_S) -> RunView:
        """``name``'s view, brought up to date (or as far as ``budget_s`` seconds of
        reading bring it: see :meth:`RunView.update`)."""
        run_dir = self._dir(name)
        with self._lock:
            view = self._views.get(name)
            if view is None:
                view = self._views[name] = RunView.open(run_dir)
        view.update(budget_s)
        if view.partial:
            self._catch_up(name, view, budget_s)
        return view

    def _catch_up(self, name: str, view: RunView, budget_s: float | None) -> None:
        """Read the rest of a partly read journal on a thread, a budget at a time, so a
        big run's whole view is there as soon as it can be read, not one budget per
        request; between budgets the page's requests get the lock."""
        with self._lock:
            if name in self._catching_up:
                return
            self._catching_up.add(name)

        def read_on() -> None:
            try:
                while view.partial:
                    view.update(budget_s)
                    time.sleep(CATCH_UP_PAUSE_S)
            except OSError as err:  # the run directory went away meanwhile
                log.warning("stopped reading %s: %s", view.run_dir, err)
            finally:
                with self._lock:
                    self._catching_up.discard(name)

        threading.Thread(
            target=read_on, name=f"chiltepin-dashboard-read-{name}", daemon=True
        ).start()

    def names(self) -> list[str]:
        """The runs under the root, newest first (run directories sort by start time)."""
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.iterdir():
            if self._shown(path.name) and not path.is_symlink() and (path / JOURNAL).is_file():
                found.append(path.name)
        return sorted(found, reverse=True)

    def recent(self, within_s: float, now: float | None = None) -> list[tuple[RunView, RunState]]:
        """The runs a metrics scrape covers, each with its state: every run whose journal
        was written within ``within_s``, and every run already viewed that is still live
        (a quiet run whose client still runs). An older run's journal is only stat'ed,
        never opened, so a root of a thousand old runs costs a scrape a thousand stats;
        a covered run's view reads only what was appended since it was last read."""
        now = time.time() if now is None else now
        out = []
        for name in self.names():
            try:
                written = (self.root / name / JOURNAL).stat().st_mtime
            except OSError:  # removed since it was listed
                continue
            with self._lock:
                cached = self._views.get(name)
            if now - written > within_s and (
                cached is None or run_state(cached, now) is not RunState.LIVE
            ):
                continue
            try:
                view = self.view(name)
            except (UnknownRun, OSError):
                continue
            out.append((view, run_state(view, now)))
        return out

    def summaries(self) -> list[dict[str, Any]]:
        """Per run: its state, tasks and outcomes, cost so far."""
        out = []
        for name in self.names():
            view = self.view(name)
            out.append(
                {
                    "run": name,
                    "state": run_state(view).value,
                    "started": view.started,
                    "updated": view.updated,
                    **view.counts(),
                    "cost": view.cost(),
                }
            )
        return out
