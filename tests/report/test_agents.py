"""The run's agents counted by state for ``chiltepin run status``: the agent lines found by
a scan of the journal are those a whole read finds (a malformed one passed over as there),
and the status mentions agents only for a run that launched any."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from chiltepin.cli.main import cli
from chiltepin.federation.journal import JOURNAL, Journal, agent_events, read_journal
from chiltepin.report.agents import agent_states
from tests.dashboard.test_view_agents import write_agents


def test_the_scan_finds_the_agent_lines_a_whole_read_finds(tmp_path: Path) -> None:
    write_agents(tmp_path)
    with (tmp_path / JOURNAL).open("ab") as f:
        f.write(b'{"e":"ag","t":1,"ag":"x","cls":"C","state":"asleep","n":1,"task":"t1"}\n')
    found = agent_events(tmp_path)
    assert found == read_journal(tmp_path).agents
    assert [e.state for e in found] == [
        "launched", "launched", "failed", "launched", "launched", "failed", "ended",
    ]  # fmt: skip
    assert agent_states(found) == {"ended": 1, "running": 1, "failed": 1}


def test_run_status_counts_the_agents_by_state(tmp_path: Path) -> None:
    write_agents(tmp_path)
    runner = CliRunner()
    said = json.loads(runner.invoke(cli, ["run", "status", str(tmp_path), "--json"]).output)
    assert said["agents"] == {"ended": 1, "running": 1, "failed": 1}
    assert (said["tasks"], said["pending"], said["succeeded"], said["failed"]) == (4, 1, 1, 2)
    text = runner.invoke(cli, ["run", "status", str(tmp_path)]).output
    assert text.rstrip().endswith("failed: 2, agents: 1 running, 1 ended, 1 failed")


def test_run_status_of_a_run_without_agents_says_nothing_of_them(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.run({"sites": {}})
    journal.close()
    result = CliRunner().invoke(cli, ["run", "status", str(tmp_path), "--json"])
    assert json.loads(result.output) == {"run_dir": str(tmp_path), "tasks": 0}
    assert "agent" not in CliRunner().invoke(cli, ["run", "status", str(tmp_path)]).output
