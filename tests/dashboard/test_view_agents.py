"""The view's agents: one row per Academy agent from its journal lines (launched,
relaunched on a fallback site, ended, failed, still running), where it ran from its task's
attempts whether they are journalled before or after its launch, the same rows as the run
report at every point of the journal, kept across a snapshot, and none for a run without
agents."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from chiltepin.dashboard.snapshot import SNAPSHOT
from chiltepin.dashboard.view import RunView
from chiltepin.federation.journal import JOURNAL, RESULTS, Journal
from chiltepin.federation.journal_format import AgentEvent, TaskOptions
from chiltepin.report import build_report

T0 = 1_800_000_000.0
MOVED = "6f1c1d1e-8a55-4c1b-9a0e-4b1f4a2f0c11"  # lost its site, relaunched on b, ended
RUNNING = "0b6a3f64-3d1c-4f8e-8f73-2f6a0f3b7d22"  # still running at the journal's end
BROKEN = "9d2e4c1a-77b0-4e5a-a1f2-c3d4e5f60733"  # its own code failed
LOST = "failed on every attempt (a)"
BROKE = "RuntimeError: will not start"


def write_agents(run_dir: Path) -> None:
    """Three agents on sites a and b, through the real journal writer (their federation
    tasks too): one whose site a was lost (its task's attempt journalled before its
    launch line) and that moved on to its fallback b (the attempt after the launch line)
    and ended there; one still running on a; one whose own code failed on b."""
    journal = Journal(run_dir)
    journal.run({"sites": {"a": {}, "b": {}}})
    journal.function(0, "agent", "00\nfn")

    def task(i: int, site: str) -> str:
        task_id = f"t{i:06d}"
        journal.task(task_id, 0, "00\nargs", TaskOptions())
        journal.attempt(task_id, 1, site, {}, {})
        return task_id

    first = task(0, "a")
    journal.agent(AgentEvent(T0 + 1, MOVED, "Counter", "launched", 1, first, "a"))
    running = task(1, "a")
    journal.agent(AgentEvent(T0 + 2, RUNNING, "Watcher", "launched", 1, running, "a"))
    journal.outcome(first, 1, False, f"TaskLost: {LOST}", "TaskLost")
    journal.agent(AgentEvent(T0 + 5, MOVED, "Counter", "failed", 1, first, "a", LOST))
    second = "t000002"
    journal.task(second, 0, "00\nargs", TaskOptions())
    journal.agent(AgentEvent(T0 + 6, MOVED, "Counter", "launched", 2, second, "b"))
    journal.attempt(second, 1, "b", {}, {})
    broken = task(3, "b")
    journal.agent(AgentEvent(T0 + 7, BROKEN, "Broken", "launched", 1, broken, "b"))
    journal.outcome(broken, 1, False, BROKE, "RuntimeError")
    journal.agent(AgentEvent(T0 + 8, BROKEN, "Broken", "failed", 1, broken, "b", BROKE))
    journal.outcome(second, 1, True, "00\nv", "value")
    journal.agent(AgentEvent(T0 + 9, MOVED, "Counter", "ended", 2, second, "b"))
    journal.close()


def _agents(run_dir: Path, **kwargs: int) -> list[dict]:
    view = RunView.open(run_dir, **kwargs)
    view.update()
    return view.as_dict()["agents"]


def _report(run_dir: Path) -> list[dict]:
    return [asdict(row) for row in build_report(run_dir).agents]


def test_each_agent_is_a_row_with_where_it_ran_and_how_it_stands(tmp_path: Path) -> None:
    write_agents(tmp_path)
    moved, running, broken = _agents(tmp_path)
    assert moved == {
        "agent": MOVED,
        "name": "Counter",
        "site": "b",
        "ran_on": "b",
        "launches": 2,
        "state": "ended",
        "error": None,
    }
    assert (running["agent"], running["name"], running["site"]) == (RUNNING, "Watcher", "a")
    assert (running["ran_on"], running["launches"], running["state"]) == ("a", 1, "running")
    assert running["error"] is None
    assert (broken["agent"], broken["ran_on"], broken["state"]) == (BROKEN, "b", "failed")
    assert broken["error"] == BROKE
    assert [moved, running, broken] == _report(tmp_path)


def test_the_rows_follow_the_journal_line_by_line_as_the_report_does(tmp_path: Path) -> None:
    """At each line of the run, the view read so far shows what the report of the
    journal up to that line shows (the agent lost on a is ``failed`` on a, then
    ``running`` on b once relaunched, still shown on a until its new task is placed)."""
    write_agents(tmp_path / "whole")
    data = (tmp_path / "whole" / JOURNAL).read_bytes()
    growing = tmp_path / "growing"
    growing.mkdir()
    (growing / RESULTS).write_bytes((tmp_path / "whole" / RESULTS).read_bytes())
    view = RunView(growing)
    seen = []
    with (growing / JOURNAL).open("ab") as f:
        for raw in data.splitlines(keepends=True):
            f.write(raw)
            f.flush()
            view.update()
            shown = view.as_dict()["agents"]
            assert shown == _report(growing)
            if shown:
                seen.append((shown[0]["state"], shown[0]["site"], shown[0]["ran_on"]))
    moves = [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s]
    assert moves == [
        ("running", "a", "a"),
        ("failed", "a", "a"),
        ("running", "b", "a"),  # relaunched on b, its new task not placed yet
        ("running", "b", "b"),
        ("ended", "b", "b"),
    ]


def test_agents_survive_a_snapshot(tmp_path: Path) -> None:
    write_agents(tmp_path / "whole")
    whole = _agents(tmp_path / "whole")
    data = (tmp_path / "whole" / JOURNAL).read_bytes()
    lines = data.splitlines(keepends=True)
    # cut after the relaunch's line, before its task's attempt: the snapshot must know
    # which task is the agent's latest for that attempt to move it
    cut = next(i for i, raw in enumerate(lines) if b'"n":2' in raw and b'"e":"ag"' in raw) + 1
    head = b"".join(lines[:cut])
    growing = tmp_path / "growing"
    growing.mkdir()
    (growing / RESULTS).write_bytes((tmp_path / "whole" / RESULTS).read_bytes())
    (growing / JOURNAL).write_bytes(head)
    assert _agents(growing, snapshot_after=1)[0]["ran_on"] == "a"  # saved mid-run
    assert (growing / SNAPSHOT).is_file()
    with (growing / JOURNAL).open("ab") as f:
        f.write(data[len(head) :])
    resumed = RunView.open(growing)
    assert resumed.offset == len(head)  # it started from the snapshot
    resumed.update()
    assert resumed.as_dict()["agents"] == whole


def test_a_snapshot_from_before_agents_is_not_trusted(tmp_path: Path) -> None:
    write_agents(tmp_path)
    expected = _agents(tmp_path, snapshot_after=1)
    saved = json.loads((tmp_path / SNAPSHOT).read_bytes())
    saved["format"] = 3
    del saved["state"]["agents"]
    (tmp_path / SNAPSHOT).write_text(json.dumps(saved))
    assert RunView.open(tmp_path).offset == 0  # read again from the journal's start
    assert _agents(tmp_path) == expected


def test_a_run_without_agents_has_none(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.run({"sites": {}})
    journal.close()
    assert _agents(tmp_path) == []
