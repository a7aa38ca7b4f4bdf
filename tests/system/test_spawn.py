"""Detached starts with a typed record, on real child processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from chiltepin.system import processes
from chiltepin.system.spawn import ProcessRecord, spawn_detached
from chiltepin.system.waiting import wait_until

SLEEPER = "import sys, time; print('up', flush=True); print('err', file=sys.stderr, flush=True);"


def test_a_spawned_process_leads_its_own_session_and_logs_both_streams(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    log.write_text("earlier run\n")
    spawned = spawn_detached([sys.executable, "-c", SLEEPER + " time.sleep(60)"], log)
    try:
        assert spawned.record.alive()
        assert spawned.record.start_time == processes.started(spawned.pid)
        assert os.getsid(spawned.pid) == spawned.pid != os.getsid(0)
        assert os.getpgid(spawned.pid) == spawned.pid
        assert wait_until(lambda: "err" in log.read_text(), 10)
        assert log.read_text().startswith("earlier run\n")  # appended
        assert "up" in log.read_text()
    finally:
        assert not processes.terminate([spawned.pid])
    assert spawned.exit_code() is not None
    assert not spawned.record.alive()


def test_a_fresh_log_and_an_exit_status(tmp_path: Path) -> None:
    log = tmp_path / "start.log"
    log.write_text("a previous start's log\n")
    spawned = spawn_detached(
        [sys.executable, "-c", "import os; print(os.getcwd()); raise SystemExit(3)"],
        log,
        cwd=tmp_path,
        env={**os.environ, "CHILTEPIN_SPAWN_TEST": "1"},
        append=False,
    )
    assert wait_until(lambda: spawned.exit_code() is not None, 10)
    assert spawned.exit_code() == 3
    assert log.read_text() == f"{tmp_path}\n"


def test_a_recycled_pid_is_not_taken_for_the_recorded_process() -> None:
    me = ProcessRecord(os.getpid(), processes.started(os.getpid()) or 0, ["pytest"])
    assert me.alive()
    # same PID, another start time: a different process that reused the number
    assert not ProcessRecord(me.pid, me.start_time + 1, me.command).alive()


def test_a_record_survives_its_json_form() -> None:
    record = ProcessRecord(1234, 5678, ["slurmd", "-D"])
    assert ProcessRecord.from_json(record.to_json()) == record
