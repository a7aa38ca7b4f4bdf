"""Start a detached process and record it so that it can be found and stopped by PID.

Every process chiltepin starts and leaves running (the single-host cluster's daemons,
RabbitMQ and its epmd, an endpoint's launcher, the stand-in) is started here, one way: in
a session of its own (it leads its process group, so its helpers are found by that
group, and a signal to the caller's group never reaches it), stdin from ``/dev/null``,
stdout and stderr into one log file. What comes back is a :class:`ProcessRecord` (PID and
start time, so a recycled PID is never taken for ours) and the ``Popen`` that reaps it.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chiltepin.system import processes


@dataclass(frozen=True)
class ProcessRecord:
    """One process this machine's chiltepin started: ``pid`` and ``start_time`` (clock ticks
    after boot, :func:`processes.started`; 0 when it was gone before it could be read)
    name it for good, ``command`` says what it was."""

    pid: int
    start_time: int
    command: list[str]

    def alive(self) -> bool:
        """True while this very process (same PID *and* start time) runs."""
        return processes.alive(self.pid, self.start_time)

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "start_time": self.start_time, "command": self.command}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessRecord:
        return cls(
            pid=int(data["pid"]),
            start_time=int(data["start_time"]),
            command=[str(c) for c in data.get("command", [])],
        )


@dataclass(frozen=True)
class Spawned:
    """A process :func:`spawn_detached` started: its record, its log, and its ``Popen``
    (to read its exit status, and to reap it so it never lingers as a zombie)."""

    record: ProcessRecord
    log: Path
    popen: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.record.pid

    def exit_code(self) -> int | None:
        """Its exit status once it has exited (reaping it), else ``None``."""
        return self.popen.poll()

    def reap_when_done(self, name: str) -> None:
        """Reap it from a daemon thread as soon as it exits.

        For a launcher that may or may not detach (without a terminal it can stay a child
        of this process): a long-lived caller would otherwise keep a zombie, which tools
        that look for the process by PID count as alive.
        """
        threading.Thread(target=self.popen.wait, name=name, daemon=True).start()


def spawn_detached(
    command: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    append: bool = True,
    die_with_parent: bool = False,
) -> Spawned:
    """Start ``command`` in a session of its own, output into ``log``; return its record.

    ``append``: add to ``log`` (a daemon's log across restarts), else start it afresh (one
    start's log). ``die_with_parent``: the process gets SIGTERM when the thread that started
    it exits (:func:`processes.parent_death_signal`), so a test run killed with SIGKILL,
    which skips every teardown, leaves nothing behind.
    """
    argv = [str(part) for part in command]
    with open(log, "ab" if append else "wb") as out:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=None if env is None else dict(env),
            cwd=cwd,
            preexec_fn=processes.parent_death_signal() if die_with_parent else None,
        )
    record = ProcessRecord(popen.pid, processes.started(popen.pid) or 0, argv)
    return Spawned(record, Path(log), popen)
