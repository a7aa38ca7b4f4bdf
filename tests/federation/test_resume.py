"""A client SIGKILLed mid-fanout; `chiltepin run resume` collects every result once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psutil
from click.testing import CliRunner

from chiltepin.cli.main import cli
from chiltepin.federation import Federation
from chiltepin.federation.journal import read_journal

REPO = Path(__file__).resolve().parents[2]
# Two sites: a task that may use one site only is never held (there is no choice to keep).
SITES = {
    name: {"kind": "local", "site": "localhost", "options": {"max_workers_per_node": 2}}
    for name in ("one", "two")
}


def test_killed_client_is_resumed_and_every_result_collected(tmp_path: Path) -> None:
    run_dir, ledger = tmp_path / "run", tmp_path / "ledger.txt"
    # Output to a file, not a pipe: the dead client's engine processes inherit it and
    # would hold a pipe open until they are reaped.
    log_path = tmp_path / "client.log"
    with log_path.open("w") as log:
        command = [
            sys.executable,
            "-m",
            "tests.federation.killed_client",
            str(run_dir),
            str(ledger),
            json.dumps(SITES),
        ]
        killed = subprocess.run(
            command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, timeout=120, check=False
        )
    assert killed.returncode == -9, log_path.read_text()
    before = read_journal(run_dir)
    assert len(before.tasks) == 40
    assert 0 < sum(t.outcome is not None for t in before.tasks.values()) < 40
    held = [t.id for t in before.tasks.values() if not t.attempts]
    assert held, "late binding held no task on the client when it was killed"
    status = CliRunner().invoke(cli, ["run", "status", str(run_dir), "--json"])
    assert json.loads(status.output)["held"] == len(held)

    result = CliRunner().invoke(cli, ["run", "resume", str(run_dir), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "40 tasks, 0 failed" in result.output

    after = read_journal(run_dir)
    assert all(t.outcome is not None and t.outcome.ok for t in after.tasks.values())
    # the dead client's engine (interchange, workers) was stopped, not left running
    assert not [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(run_dir) in " ".join(p.info["cmdline"] or [])
    ]
    # every task ran at least once; each logical task resolved exactly once
    ran = Counter(int(x) for x in ledger.read_text().split())
    assert set(ran) == set(range(40))
    resumed = Federation.reattach(run_dir, progress=False)
    assert [f.result(5) for f in resumed.futures] == list(range(40))
    resumed.shutdown()


def test_run_status_counts_states(tmp_path: Path) -> None:
    with Federation(SITES, run_dir=tmp_path, progress=False) as fed:
        list(fed.map(abs, [-1, -2, -3]))
    result = CliRunner().invoke(cli, ["run", "status", str(tmp_path), "--json"])
    assert json.loads(result.output) == {"run_dir": str(tmp_path), "tasks": 3, "succeeded": 3}
