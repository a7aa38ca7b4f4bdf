"""Find and stop processes strictly by PID, with psutil.

chiltepin supervises what it starts itself (the single-host Slurm cluster's daemons, the
Globus stand-in and its RabbitMQ, endpoints): no systemd or cgroups to lean on. Stopping
them must never touch anything it did not start: no ``pkill``, no ``killall``, no matching by
name. Every process is found from something its starter owns: a PID it recorded (with the
process's start time, so a recycled PID is never signalled), the process tree, session or
process group below such a PID, or an open file only its processes hold.

Zombies count as gone: they have exited, and some sandboxes' PID 1 never reaps orphans, so
they can linger as ``Z`` for good.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from chiltepin.system.waiting import wait_until

_PR_SET_PDEATHSIG = 1
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_GONE = (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
#: How long a SIGKILLed process gets to disappear before it counts as a survivor (seconds).
KILL_WAIT_S = 2.0


def started(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks after boot; ``None`` when it does not exist.

    With the PID this identifies one process for good. Ticks after boot, not psutil's
    wall-clock ``create_time``: that one moves when the clock is stepped, and a daemon that
    seems to have changed would be neither stopped nor adopted.
    """
    try:
        since_boot = psutil.Process(pid).create_time() - psutil.boot_time()
    except psutil.Error:
        return None
    return round(since_boot * _CLOCK_TICKS)


def alive(pid: int, start: int | None = None) -> bool:
    """True when ``pid`` runs (not a zombie) and, if ``start`` is given, is that same process."""
    try:
        if psutil.Process(pid).status() in _GONE:
            return False
    except psutil.Error:
        return False
    return start is None or started(pid) == start


def leftovers(pids: Iterable[int]) -> list[int]:
    """The ones among ``pids`` that still run, sorted (for "nothing was left behind" checks)."""
    return sorted(pid for pid in set(pids) if alive(pid))


@dataclass(frozen=True)
class _Entry:
    ppid: int
    pgrp: int
    session: int


def _table() -> dict[int, _Entry]:
    """Parent, process group and session of every process visible now, by PID."""
    table: dict[int, _Entry] = {}
    for process in psutil.process_iter(["ppid"]):
        with contextlib.suppress(OSError):  # gone since the listing
            pid = process.pid
            table[pid] = _Entry(process.info["ppid"] or 0, os.getpgid(pid), os.getsid(pid))
    return table


def _descendants(roots: Iterable[int], table: dict[int, _Entry]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, entry in table.items():
        children.setdefault(entry.ppid, []).append(pid)
    found: set[int] = set()
    stack = [pid for pid in roots if pid in table]
    while stack:
        pid = stack.pop()
        if pid not in found:
            found.add(pid)
            stack.extend(children.get(pid, ()))
    return found


def tree(roots: Iterable[int]) -> set[int]:
    """``roots`` (those that exist) and every process below them in the parent/child tree."""
    return _descendants(roots, _table())


def group_members(leaders: Iterable[int]) -> set[int]:
    """Every process whose process group is one of ``leaders``.

    A daemon started in its own session leads its group; helpers it forks stay in it, so its
    PID finds them, even after the leader itself has exited.
    """
    wanted = set(leaders)
    return {pid for pid, entry in _table().items() if entry.pgrp in wanted}


def expand(roots: Iterable[int]) -> set[int]:
    """``roots`` plus their descendants and the members of their sessions and process groups.

    Slurm job tasks get their own process group (``setpgid``) inside ``slurmstepd``'s session;
    a task that daemonised itself leaves the tree but keeps the session. Sessions and groups
    are only followed when a root leads them or sits in a private one, never for PID 1 or our
    own.
    """
    table = _table()
    protected = {0, 1, os.getpgrp(), os.getsid(0)}
    found = _descendants(roots, table)
    sessions = {table[p].session for p in found} - protected
    groups = {table[p].pgrp for p in found} - protected
    found |= {p for p, e in table.items() if e.session in sessions or e.pgrp in groups}
    found = _descendants(found, table)
    found.discard(os.getpid())
    return found - protected


def holders_of(paths: Iterable[Path]) -> set[int]:
    """PIDs of the processes that have any of ``paths`` open.

    Why this exists: ``slurmd`` forks ``slurmstepd`` through an intermediate process that
    exits, and ``slurmstepd`` calls ``setsid``, so job steps are neither children nor session
    members of the ``slurmd`` that started them; they do keep the node's log file open.
    """
    wanted = {str(Path(p)) for p in paths}
    holders: set[int] = set()
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if any(f.path in wanted for f in process.open_files()):
                holders.add(process.pid)
    return holders


def listening_on(port: int) -> list[int | None]:
    """PIDs of the processes listening on TCP ``port`` (IPv4 or IPv6), ``None`` for one
    this user may not inspect; empty when nothing listens.

    Why this exists: a daemon that cannot bind its port should name whoever holds it.
    """
    return [
        conn.pid
        for conn in psutil.net_connections("tcp")
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port
    ]


def command_line(pid: int) -> str | None:
    """``pid``'s command line, space-joined; ``None`` when it is gone or not ours to read."""
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return None


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


def signal_pids(pids: Iterable[int], sig: signal.Signals) -> None:
    """Send ``sig`` to each PID, ignoring the ones that are already gone."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def wait_gone(pids: Iterable[int], timeout: float) -> set[int]:
    """Wait up to ``timeout`` seconds for ``pids`` to exit (reaping our children among them);
    return the ones still alive."""
    remaining = set(pids)

    def all_gone() -> bool:
        for pid in list(remaining):
            if not alive(pid):  # exited: a zombie child of ours is collected now, not
                reap(pid)  # before the look (it could die between the two and stay one)
                remaining.discard(pid)
        return not remaining

    wait_until(all_gone, timeout, interval=0.05)
    return remaining


def terminate(pids: Iterable[int], timeout: float = 5.0) -> set[int]:
    """SIGTERM ``pids``, wait up to ``timeout``, SIGKILL survivors; return any still alive."""
    targets = {pid for pid in pids if alive(pid)}
    if not targets:
        return set()
    signal_pids(targets, signal.SIGTERM)
    survivors = wait_gone(targets, timeout)
    if survivors:
        signal_pids(survivors, signal.SIGKILL)
        survivors = wait_gone(survivors, KILL_WAIT_S)
    return survivors


def kill_now(pids: Iterable[int]) -> set[int]:
    """SIGKILL ``pids`` at once (a node "dies"); return any still alive shortly after."""
    targets = {pid for pid in pids if alive(pid)}
    signal_pids(targets, signal.SIGKILL)
    return wait_gone(targets, KILL_WAIT_S)
