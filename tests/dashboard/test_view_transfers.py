"""The view's transfers: per direction, source and destination, the batches that ended ok
or failed, the pairs in flight, files, bytes and the last error; kept across a snapshot,
and a snapshot from before transfers were kept is read again, not trusted."""

from __future__ import annotations

import json
from pathlib import Path

from chiltepin.dashboard.snapshot import SNAPSHOT
from chiltepin.dashboard.view import RunView
from chiltepin.federation.journal import JOURNAL, Journal
from chiltepin.federation.journal_format import TransferEvent

T0 = 1_800_000_000.0
EVENTS = [
    TransferEvent(T0, "in", "home", "a", "active", 5),
    TransferEvent(T0 + 1, "in", "home", "a", "ok", 4, 4, 4000, task="t1"),
    TransferEvent(T0 + 2, "out", "local", "local", "active", 2),
    TransferEvent(T0 + 3, "in", "home", "a", "failed", 1, 0, 0, "PERMISSION_DENIED: no", "t2"),
    TransferEvent(T0 + 4, "in", "home", "a", "active", 3),
    # ended under the collection's other name than it started (one Transfer task for both)
    TransferEvent(T0 + 5, "in", "home-uuid", "a", "ok", 1, 1, 10, task="t3"),
    TransferEvent(T0 + 6, "in", "home", "a", "ok", 2, 2, 20, task="t3"),
]


def write(run_dir: Path, events: list[TransferEvent]) -> None:
    journal = Journal(run_dir)
    journal.run({"sites": {}})
    for event in events:
        journal.transfer(event)
    journal.close()


def rows(run_dir: Path, **kwargs: int) -> list[dict]:
    view = RunView.open(run_dir, **kwargs)
    view.update()
    return view.as_dict()["transfers"]


def test_transfers_are_tallied_per_direction_source_and_destination(tmp_path: Path) -> None:
    write(tmp_path, EVENTS)
    (home, other, out) = rows(tmp_path)
    assert (home["direction"], home["source"], home["destination"]) == ("in", "home", "a")
    assert (home["batches"], home["ok"], home["failed"], home["pairs"]) == (3, 2, 1, 7)
    assert (home["in_flight"], home["files"], home["bytes"]) == (1, 6, 4020)
    assert (home["last_error"], home["last_task"]) == ("PERMISSION_DENIED: no", "t2")
    assert (other["source"], other["in_flight"], other["files"]) == ("home-uuid", 0, 1)
    assert (out["direction"], out["batches"], out["in_flight"]) == ("out", 0, 2)
    assert out["updated"] == T0 + 2


def test_transfers_survive_a_snapshot(tmp_path: Path) -> None:
    write(tmp_path / "whole", EVENTS)
    whole = rows(tmp_path / "whole")
    data = (tmp_path / "whole" / JOURNAL).read_bytes()
    head = b"".join(data.splitlines(keepends=True)[:4])  # the header and three events
    growing = tmp_path / "growing"
    growing.mkdir()
    (growing / JOURNAL).write_bytes(head)
    assert rows(growing, snapshot_after=1)[0]["in_flight"] == 1  # saved mid-run
    assert (growing / SNAPSHOT).is_file()
    with (growing / JOURNAL).open("ab") as f:  # the rest of the run, appended
        f.write(data[len(head) :])
    resumed = RunView.open(growing)
    assert resumed.offset == len(head)  # it started from the snapshot
    resumed.update()
    assert resumed.as_dict()["transfers"] == whole


def test_a_snapshot_from_before_transfers_is_not_trusted(tmp_path: Path) -> None:
    write(tmp_path, EVENTS)
    expected = rows(tmp_path, snapshot_after=1)
    saved = json.loads((tmp_path / SNAPSHOT).read_bytes())
    saved["format"] = 1
    del saved["state"]["transfers"]
    (tmp_path / SNAPSHOT).write_text(json.dumps(saved))
    assert RunView.open(tmp_path).offset == 0  # read again from the journal's start
    assert rows(tmp_path) == expected
