"""Find and stop processes strictly by PID, reading ``/proc``.

The single-host cluster runs its daemons without systemd or cgroups, so chiltepin itself is their
supervisor. Stopping them must never touch anything it did not start: no ``pkill``, no
``killall``, no matching by name. Every process is found from something this cluster owns — a PID
it recorded (checked against the process start time so a recycled PID is never signalled), the
process tree or session below such a PID, or an open file inside the cluster directory.

Why the open-file rule: ``slurmd`` forks ``slurmstepd`` through an intermediate process that
exits, and ``slurmstepd`` calls ``setsid``, so job steps are neither children nor session members
of the ``slurmd`` that started them (they are re-parented to PID 1). They do keep the node's
``SlurmdLogFile`` open, which names the cluster directory and the node.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` this module needs."""

    pid: int
    comm: str
    state: str
    ppid: int
    pgrp: int
    session: int
    start_time: int  # clock ticks after boot: with the PID, identifies one process for good

    @property
    def alive(self) -> bool:
        """False for zombies: some sandboxes' PID 1 never reaps orphans, so they linger as ``Z``."""
        return self.state not in ("Z", "X", "x")


def read_stat(pid: int) -> ProcStat | None:
    """Parse ``/proc/<pid>/stat``; ``None`` when the process does not exist."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm is in parentheses and may itself contain spaces or ')': split at the last ')'.
    head, _, tail = raw.rpartition(")")
    comm = head.partition("(")[2]
    fields = tail.split()
    # fields[0] is field 3 (state); starttime is field 22.
    return ProcStat(
        pid=pid,
        comm=comm,
        state=fields[0],
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        session=int(fields[3]),
        start_time=int(fields[19]),
    )


def process_table() -> dict[int, ProcStat]:
    """Every process visible in ``/proc``, by PID."""
    table: dict[int, ProcStat] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = read_stat(int(entry.name))
            if stat is not None:
                table[stat.pid] = stat
    return table


def start_time(pid: int) -> int | None:
    """Start time of ``pid`` (ticks after boot), or ``None`` when it is gone."""
    stat = read_stat(pid)
    return stat.start_time if stat is not None else None


def is_alive(pid: int, start: int | None = None) -> bool:
    """True when ``pid`` runs (not a zombie) and, if ``start`` is given, is the same process."""
    stat = read_stat(pid)
    if stat is None or not stat.alive:
        return False
    return start is None or stat.start_time == start


def parent_death_signal(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get ``sig`` when the parent thread exits.

    ``PR_SET_PDEATHSIG`` survives ``exec`` (for non-setuid programs) and needs no cooperation
    from the daemon. ``prctl`` is looked up here, in the parent, so that the forked child only
    makes one call (no ``dlopen`` after ``fork`` in a multi-threaded process). ``None`` where
    ``prctl`` is unavailable.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return preexec


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child, so it does not stay a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def descendants(roots: Iterable[int], table: dict[int, ProcStat]) -> set[int]:
    """``roots`` and every process below them in the parent/child tree."""
    children: dict[int, list[int]] = {}
    for stat in table.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found: set[int] = set()
    stack = [pid for pid in roots if pid in table]
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found.add(pid)
        stack.extend(children.get(pid, ()))
    return found


def expand(roots: Iterable[int], table: dict[int, ProcStat] | None = None) -> set[int]:
    """``roots`` plus their descendants and the members of their sessions and process groups.

    Job tasks get their own process group (``setpgid``) inside ``slurmstepd``'s session; a task
    that daemonised itself leaves the tree but keeps the session. Sessions and groups are only
    followed when a root leads them or sits in a private one, never for PID 1 or our own.
    """
    table = table if table is not None else process_table()
    own = read_stat(os.getpid())
    protected = {0, 1}
    if own is not None:
        protected |= {own.session, own.pgrp}
    found = descendants(roots, table)
    sessions = {table[p].session for p in found if p in table} - protected
    groups = {table[p].pgrp for p in found if p in table} - protected
    for stat in table.values():
        if stat.session in sessions or stat.pgrp in groups:
            found.add(stat.pid)
    found = descendants(found, table)
    found.discard(os.getpid())
    return {pid for pid in found if pid not in protected}


def holders_of(paths: Iterable[Path]) -> set[int]:
    """PIDs of the processes that have any of ``paths`` open (scans ``/proc/*/fd``)."""
    wanted = {str(Path(p)) for p in paths}
    holders: set[int] = set()
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except (FileNotFoundError, PermissionError, ProcessLookupError, NotADirectoryError):
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in wanted:
                holders.add(int(entry.name))
                break
    return holders


def signal_pids(pids: Iterable[int], sig: signal.Signals) -> None:
    """Send ``sig`` to each PID, ignoring the ones that are already gone."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def wait_gone(pids: Iterable[int], timeout: float) -> set[int]:
    """Wait up to ``timeout`` seconds for ``pids`` to exit; return the ones still alive."""
    remaining = set(pids)
    deadline = time.monotonic() + timeout
    while True:
        for pid in list(remaining):
            reap(pid)
            if not is_alive(pid):
                remaining.discard(pid)
        if not remaining or time.monotonic() >= deadline:
            return remaining
        time.sleep(0.05)


def terminate(pids: Iterable[int], timeout: float = 5.0) -> set[int]:
    """SIGTERM ``pids``, wait up to ``timeout``, SIGKILL survivors; return any still alive."""
    targets = {pid for pid in pids if is_alive(pid)}
    if not targets:
        return set()
    signal_pids(targets, signal.SIGTERM)
    survivors = wait_gone(targets, timeout)
    if survivors:
        signal_pids(survivors, signal.SIGKILL)
        survivors = wait_gone(survivors, 2.0)
    return survivors


def kill_now(pids: Iterable[int]) -> set[int]:
    """SIGKILL ``pids`` at once (a node "dies"); return any still alive after two seconds."""
    targets = {pid for pid in pids if is_alive(pid)}
    signal_pids(targets, signal.SIGKILL)
    return wait_gone(targets, 2.0)
