"""Processes found and stopped strictly by PID, on real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from chiltepin.system import processes
from chiltepin.system.waiting import wait_until

IGNORE_TERM = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)"


class Children:
    """Start children that print a line once set up; stop whatever is left at the end."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []
        self.pids: set[int] = set()

    def python(self, code: str) -> tuple[subprocess.Popen[str], str]:
        return self.run(
            [
                sys.executable,
                "-c",
                f"{code}\nprint('ready', flush=True)\nimport time; time.sleep(120)",
            ]
        )

    def run(self, argv: list[str]) -> tuple[subprocess.Popen[str], str]:
        """Start ``argv`` in its own session; return it and the first line it prints."""
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.started.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        self.pids.add(proc.pid)
        return proc, line

    def cleanup(self) -> None:
        processes.kill_now(self.pids)
        for proc in self.started:
            proc.wait(5)
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.fixture
def children() -> Iterator[Children]:
    kids = Children()
    try:
        yield kids
    finally:
        kids.cleanup()


def test_start_time_tells_a_recycled_pid_apart() -> None:
    me = os.getpid()
    start = processes.started(me)
    assert start is not None and start == processes.started(me)
    assert processes.alive(me, start)
    assert not processes.alive(me, start + 1)  # same PID, different process: never signalled


def test_a_zombie_counts_as_gone(children: Children) -> None:
    proc, _ = children.python("")
    processes.signal_pids([proc.pid], signal.SIGKILL)
    assert wait_until(lambda: not processes.alive(proc.pid), 5, what="child exits")
    assert psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE  # not reaped yet
    assert processes.started(proc.pid) is not None
    assert processes.leftovers([proc.pid, os.getpid()]) == [os.getpid()]


def test_terminate_escalates_to_sigkill_and_reaps(children: Children) -> None:
    polite, _ = children.python("")
    stubborn, _ = children.python(IGNORE_TERM)
    began = time.monotonic()
    assert processes.terminate([polite.pid, stubborn.pid], timeout=0.5) == set()
    assert time.monotonic() - began >= 0.5  # the stubborn one outlived SIGTERM's grace period
    # gone for good, and reaped (children, not left as zombies)
    assert not psutil.pid_exists(polite.pid) and not psutil.pid_exists(stubborn.pid)


def test_kill_now_and_nothing_to_stop(children: Children, tmp_path: Path) -> None:
    # A child that notes every SIGTERM and survives it: SIGKILL must be the only signal.
    termed = tmp_path / "termed"
    proc, _ = children.python(
        "import pathlib, signal\n"
        f"signal.signal(signal.SIGTERM, lambda *_: pathlib.Path({str(termed)!r}).touch())"
    )
    assert processes.kill_now([proc.pid]) == set()
    assert not termed.exists()  # no SIGTERM first, so no grace period to wait out
    assert not psutil.pid_exists(proc.pid)
    assert processes.terminate([proc.pid]) == set()  # already gone: nothing is signalled


def test_tree_group_and_session_members(children: Children) -> None:
    # A background child (tree and group) and a "daemon" whose parent exited: it left the
    # tree but keeps the session, as a Slurm task that daemonised itself does.
    shell, line = children.run(
        ["bash", "-c", "sleep 120 & kid=$!; (sleep 120 & echo $kid $!); wait"]
    )
    kid, daemon = (int(p) for p in line.split())
    children.pids |= {kid, daemon}
    assert wait_until(lambda: daemon not in processes.tree([shell.pid]), 5, what="orphaned")
    assert processes.tree([shell.pid]) == {shell.pid, kid}
    assert processes.group_members([shell.pid]) >= {shell.pid, kid}
    assert processes.expand([shell.pid]) == {shell.pid, kid, daemon}
    assert os.getpid() not in processes.expand([shell.pid, os.getpid()])


def test_holders_of_an_open_file(children: Children, tmp_path: Path) -> None:
    log = tmp_path / "slurmd.log"
    holder, _ = children.python(f"log = open({str(log)!r}, 'a')")
    children.python("")  # holds nothing
    assert processes.holders_of([log]) == {holder.pid}
    assert processes.holders_of([tmp_path / "other.log"]) == set()


def test_the_listener_on_a_port_is_named(children: Children) -> None:
    listener, line = children.python(
        "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen();"
        " print(s.getsockname()[1], flush=True)"
    )
    port = int(line)
    assert processes.listening_on(port) == [listener.pid]
    assert "print(s.getsockname()[1]" in (processes.command_line(listener.pid) or "")
    children.cleanup()
    assert processes.listening_on(port) == []
    assert processes.command_line(listener.pid) is None
