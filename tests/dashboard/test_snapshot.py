"""The view's saved aggregates: a snapshot and the journal's tail give what a whole read
gives; a journal changed under a snapshot is read again; an unwritable run directory
gets no snapshot and still shows its run."""

from __future__ import annotations

from pathlib import Path

import pytest

from chiltepin.dashboard.snapshot import SNAPSHOT
from chiltepin.dashboard.view import RunView
from chiltepin.federation.journal import JOURNAL, RESULTS, Journal
from chiltepin.federation.journal_format import TaskOptions
from tests.dashboard.test_view import write_run


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "20261207-run"
    write_run(run)
    return run


def _whole(run_dir: Path) -> dict:
    view = RunView(run_dir, snapshot_after=10**9)
    view.update()
    return view.as_dict()


def _copy(run_dir: Path, to: Path, journal: bytes) -> Path:
    to.mkdir(parents=True)
    (to / RESULTS).write_bytes((run_dir / RESULTS).read_bytes())
    (to / JOURNAL).write_bytes(journal)
    return to


def test_a_snapshot_and_the_tail_give_what_a_whole_read_gives(
    run_dir: Path, tmp_path: Path
) -> None:
    data = (run_dir / JOURNAL).read_bytes()
    lines = data.splitlines(keepends=True)
    for cut in (len(lines) // 3, len(lines) // 2, len(lines) - 1):  # each mid-run
        head = b"".join(lines[:cut])
        growing = _copy(run_dir, tmp_path / f"cut{cut}" / run_dir.name, head)
        first = RunView.open(growing, snapshot_after=1)
        assert first.offset == 0  # no snapshot yet
        first.update()
        assert (growing / SNAPSHOT).is_file()
        with (growing / JOURNAL).open("ab") as f:
            f.write(data[len(head) :])
        resumed = RunView.open(growing)
        assert resumed.offset == len(head)  # it starts where the snapshot ends
        assert resumed.as_dict() == first.as_dict()
        assert resumed.update() == len(lines) - cut  # only the tail is read
        assert resumed.as_dict() == _whole(run_dir)


def test_a_finished_runs_snapshot_is_its_whole_view(run_dir: Path) -> None:
    RunView.open(run_dir, snapshot_after=1).update()
    saved = RunView.open(run_dir)
    assert saved.offset == (run_dir / JOURNAL).stat().st_size
    assert saved.update() == 0 and saved.as_dict() == _whole(run_dir)


@pytest.mark.parametrize("change", ["truncated", "rewritten", "replaced"])
def test_a_changed_journal_is_read_again(run_dir: Path, change: str) -> None:
    RunView.open(run_dir, snapshot_after=1).update()
    data = (run_dir / JOURNAL).read_bytes()
    if change == "truncated":
        changed = data[: len(data) // 2]
    elif change == "rewritten":  # same length, one line's task renamed near the end
        at = data.rindex(b'"id":"t0000')
        changed = data[:at] + data[at:].replace(b'"id":"t0000', b'"id":"x0000', 1)
    else:  # another run's journal, longer than this one, in its place
        changed = data.replace(b'"t0000', b'"u0000') + data
    (run_dir / JOURNAL).write_bytes(changed)
    view = RunView.open(run_dir)
    assert view.offset == 0  # the snapshot was not used
    view.update()
    assert view.as_dict() == _whole(run_dir)


def test_an_unwritable_run_directory_gets_no_snapshot(run_dir: Path) -> None:
    (run_dir / SNAPSHOT).mkdir()  # what would be the snapshot cannot be written (even as root)
    view = RunView.open(run_dir, snapshot_after=1)
    view.update()
    assert (run_dir / SNAPSHOT).is_dir() and view.as_dict() == _whole(run_dir)
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []
    assert RunView.open(run_dir).offset == 0


def test_a_live_run_is_saved_no_more_often_than_it_has_tasks_out(tmp_path: Path) -> None:
    """Saving costs in proportion to the tasks still out: with 3 out, an update of one
    line saves nothing, one that brings the lines read since the last save to 3 does."""
    run_dir = tmp_path / "live"
    journal = Journal(run_dir)
    journal.run({"sites": {}})
    for i in range(3):
        journal.task(f"t{i}", 0, "00\nargs", TaskOptions())
    journal.close()
    view = RunView.open(run_dir, snapshot_after=1)
    view.update()
    saved = RunView.open(run_dir).offset
    assert saved == view.offset  # the first read was saved
    with (run_dir / JOURNAL).open("ab") as f:
        f.write(b'{"e":"a","n":1,"id":"t0","s":"a","t":1.0}\n')
        f.flush()
        assert view.update() == 1 and RunView.open(run_dir).offset == saved
        f.write(b'{"e":"a","n":1,"id":"t1","s":"a","t":1.0}\n')
        f.write(b'{"e":"a","n":1,"id":"t2","s":"a","t":1.0}\n')
    assert view.update() == 2 and RunView.open(run_dir).offset == view.offset


def test_a_read_on_a_time_budget_shows_part_then_catches_up(tmp_path: Path) -> None:
    """A page's request reads on a time budget: a big journal read for the first time is
    shown in part (``partial``, the run ``reading``) and the following reads go on from
    there to what one whole read gives, each line read once."""
    from chiltepin.dashboard.runs import RunState, run_state
    from chiltepin.dashboard.view import BUDGET_CHECK

    run_dir = tmp_path / "big"
    journal = Journal(run_dir)
    journal.run({"sites": {}})
    tasks = 3 * BUDGET_CHECK
    for i in range(tasks):
        journal.task(f"t{i}", 0, "00\nargs", TaskOptions())
    journal.estimates([])  # the run's end
    journal.close()
    view = RunView(run_dir, snapshot_after=10**9)
    first = view.update(budget_s=0)  # a spent budget stops at the first look
    assert first == BUDGET_CHECK and view.partial
    assert run_state(view) is RunState.READING
    assert view.as_dict()["journal"] == {
        "read": view.offset,
        "size": (run_dir / JOURNAL).stat().st_size,
        "partial": True,
    }
    read = first
    while view.partial:
        read += view.update(budget_s=0)
    assert read == tasks + 2  # the header, the tasks, the end: each line once
    assert view.counts()["tasks"] == tasks and run_state(view) is RunState.FINISHED
    whole = RunView(run_dir, snapshot_after=10**9)
    whole.update()
    assert view.as_dict() == whole.as_dict()


def test_a_partly_read_run_is_read_on_without_more_requests(tmp_path: Path) -> None:
    """After one request's budget, the dashboard reads the rest of a big journal on its
    own: the whole view is there without a request per budget."""
    from chiltepin.dashboard.runs import Runs
    from chiltepin.dashboard.view import BUDGET_CHECK
    from chiltepin.system.waiting import wait_until

    run_dir = tmp_path / "runs" / "20261207-big"
    journal = Journal(run_dir)
    journal.run({"sites": {}})
    for i in range(5 * BUDGET_CHECK):
        journal.task(f"t{i}", 0, "00\nargs", TaskOptions())
    journal.close()
    view = Runs(tmp_path / "runs").view(run_dir.name, budget_s=0)
    wait_until(lambda: not view.partial, timeout=30, what="the journal to be read on")
    assert view.offset == (run_dir / JOURNAL).stat().st_size
    assert view.counts()["tasks"] == 5 * BUDGET_CHECK
