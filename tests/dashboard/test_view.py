"""The dashboard's run view: computed from the journal incrementally, equal to a whole
read and to the run report; the live status event; the runs list's states."""

from __future__ import annotations

import os
import random
import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest

from chiltepin.client.config import FederationConfig
from chiltepin.dashboard import unknown
from chiltepin.dashboard.buckets import MAX_BUCKETS, Buckets
from chiltepin.dashboard.runs import Runs, RunState, UnknownRun, run_state
from chiltepin.dashboard.view import RunView
from chiltepin.federation.journal import (
    JOURNAL,
    RESULTS,
    Journal,
    count_states,
    read_journal,
)
from chiltepin.federation.journal_format import SiteStatus, StatusEvent, TaskOptions
from chiltepin.federation.journal_format import line as journal_line
from chiltepin.federation.states import TaskState
from chiltepin.report import build_report

T0 = 1_800_000_000.0
LONG_ERROR = "Traceback (most recent call last):\n" + "  frame\n" * 2000 + "OSError: disk full\n"


def _config() -> dict:
    site = {"kind": "local", "site": "localhost", "set": ["cost_per_node_hour=3.0"]}
    config = FederationConfig.model_validate({"sites": {"a": site, "b": dict(site)}})
    return config.model_dump(mode="json")


def _ran(job: str, start: float, took: float, nodes: int = 1) -> dict:
    return {"job": job, "nodes": nodes, "host": "h", "start": T0 + start, "end": T0 + start + took}


def _status(at: float, healthy_b: bool, succeeded: int) -> StatusEvent:
    return StatusEvent(
        at=T0 + at,
        sites=(
            SiteStatus(
                "a",
                True,
                workers=2,
                idle=1,
                blocks_running=1,
                blocks_pending=2,
                capacity=2,
                outstanding=1,
                window=4,
                run_s=1.5,
            ),
            SiteStatus(  # an endpoint: its status carries no blocks
                "b",
                healthy_b,
                None if healthy_b else "endpoint stopped",
                state="online" if healthy_b else "stopped",
                workers=0,
                idle=0,
            ),
        ),
        held=3,
        states={TaskState.SUCCEEDED.value: succeeded, TaskState.HELD.value: 3},
        spent=0.5,
        budget=10.0,
        unit="USD",
        pid=os.getpid(),
        host="elsewhere",
    )


def write_run(run_dir: Path) -> None:
    """A run with every kind of line the view counts: successes on two sites and two
    batch jobs, a retry elsewhere, a race, a failover, a user failure with a long error
    (in results.bin), a refusal, a task still held and one still out, status lines
    (site b lost and back), a pre-flight answer, and the run's end."""
    journal = Journal(run_dir)
    journal.run(_config())
    journal.function(0, "f", "00\nfn")
    journal.status(_status(0.1, True, 0))

    def task(i: int) -> str:
        task_id = f"t{i:06d}"
        journal.task(task_id, 0, "00\nargs", TaskOptions())
        return task_id

    for i, (site, job, start) in enumerate([("a", "j1", 1), ("a", "j1", 2), ("b", "k1", 3)]):
        tid = task(i)
        journal.attempt(tid, 1, site, {}, {})
        journal.outcome(tid, 1, True, "00\nvalue", "value", _ran(job, start, 2.0, nodes=2))
    retried = task(3)
    journal.attempt(retried, 1, "b", {}, {})
    journal.attempt(retried, 2, "a", {}, {}, via=TaskState.RETRIED)
    journal.outcome(retried, 2, True, "00\nv", "value", _ran("j2", 40, 1.0))
    raced = task(4)
    journal.attempt(raced, 1, "b", {}, {})
    journal.attempt(raced, 2, "a", {}, {}, via=TaskState.RACED)
    journal.outcome(raced, 2, True, "00\nv", "value", _ran("j2", 41, 1.0))
    journal.status(_status(5.0, False, 5))
    failed_over = task(5)
    journal.attempt(failed_over, 1, "b", {}, {})
    journal.attempt(failed_over, 2, "a", {}, {}, via=TaskState.FAILED_OVER)
    journal.versions("b", {"python": "3.11.2", "sdk": "4.19.0"})
    user = task(6)
    journal.attempt(user, 1, "a", {}, {})
    journal.outcome(user, 1, False, LONG_ERROR, "OSError", _ran("j2", 43, 0.5))
    refused = task(7)
    journal.outcome(refused, 0, False, "BudgetExceeded: budget reached", "BudgetExceeded")
    task(8)  # still held
    journal.status(_status(50.0, True, 5))
    journal.site("b", True, None, "online")
    journal.alert("site_back", "b", {"state": "online", "down_s": 45.0}, 51.0)
    journal.estimates([])
    journal.close()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "20261207-run"
    write_run(run)
    return run


def test_the_view_counts_as_the_report_and_run_status_do(run_dir: Path) -> None:
    view = RunView(run_dir)
    view.update()
    page = view.as_dict()
    assert page["counts"] == {"tasks": 9, "held": 1, "pending": 1, "succeeded": 5, "failed": 2}
    counted = count_states(run_dir)  # the status lines leave run status's counting alone
    assert (counted.tasks, counted.held, counted.pending) == (9, 1, 1)
    assert (counted.succeeded, counted.failed, counted.skipped) == (5, 2, 0)
    report = {s.site: s for s in build_report(run_dir).sites}
    sites = {s["site"]: s for s in page["sites"]}
    for name in ("a", "b"):
        assert sites[name]["placed"] == report[name].tasks
        assert sites[name]["succeeded"] == report[name].succeeded
        assert sites[name]["failed"] == report[name].failed
        assert sites[name]["retried"] == report[name].retries
        assert sites[name]["failed_over"] == report[name].failovers
        assert sites[name]["node_hours"] == pytest.approx(report[name].node_hours)
        assert sites[name]["cost"] == pytest.approx(report[name].cost)
    assert sites["a"]["raced"] == 1 and sites["b"]["retried"] == 1
    assert sites["b"]["failed_over"] == 2  # the retry went elsewhere; the stopped site
    # j1: 2 nodes from 1 s to 4 s; k1: 2 nodes for 2 s; j2: 1 node from 40 s to 42 s
    # (the failed task's time in it is not counted, as in the report)
    assert page["cost"]["node_hours"] == pytest.approx((2 * 3 + 2 * 2 + 2) / 3600)
    assert page["cost"]["spent"] == pytest.approx(3.0 * (2 * 3 + 2 * 2 + 2) / 3600)
    assert page["cost"]["budget"] == 10.0
    assert page["ended"] and page["states"] == {"succeeded": 5, "held": 3}
    assert sites["b"]["status"]["healthy"] is True and sites["a"]["status"]["window"] == 4


def test_a_sites_idle_workers_and_blocks_and_why_a_count_is_unknown(run_dir: Path) -> None:
    view = RunView(run_dir)
    view.update()
    sites = {s["site"]: s for s in view.as_dict()["sites"]}
    a, b = sites["a"]["status"], sites["b"]["status"]
    assert (a["workers"], a["idle"], a["blocks_running"], a["blocks_pending"]) == (2, 1, 1, 2)
    assert sites["a"]["unknown"] == {}  # a local site says all of it
    assert (b["workers"], b["idle"], b["blocks_running"], b["blocks_pending"]) == (0, 0, None, None)
    assert sites["b"]["unknown"] == {"blocks": unknown.NO_BLOCKS}


def test_a_status_line_from_before_idle_and_blocks_reads_them_as_unknown(tmp_path: Path) -> None:
    """A journal written before a site's status had idle workers and blocks (same format
    version) still loads: those counts read as unsaid, and the page says why; a key this
    chiltepin does not know (a newer writer's) is passed over."""
    run = tmp_path / "runs" / "old"
    journal = Journal(run)
    journal.run(_config())
    journal.close()
    old_sites = [
        {"site": "a", "healthy": True, "workers": 2, "capacity": 2, "newer": 1},
        {"site": "b", "healthy": True, "state": "online", "workers": None},
    ]
    line = {"e": "st", "t": T0 + 1, "held": 0, "states": {}, "sites": old_sites, "pid": 1}
    with (run / JOURNAL).open("ab") as f:
        f.write(journal_line(line))
    assert read_journal(run).skipped == []
    view = RunView(run)
    view.update()
    assert view.skipped == 0
    sites = {s["site"]: s for s in view.as_dict()["sites"]}
    assert sites["a"]["status"]["workers"] == 2 and sites["a"]["status"]["idle"] is None
    assert sites["a"]["unknown"] == {
        "workers": unknown.NOT_RECORDED,
        "blocks": unknown.NOT_RECORDED,
    }
    assert sites["b"]["unknown"] == {"workers": unknown.NO_WORKERS, "blocks": unknown.NO_BLOCKS}
    assert unknown.unknown(None) == {"workers": unknown.NO_STATUS, "blocks": unknown.NO_STATUS}
    not_started = SiteStatus("c", True)  # a local site before its first task
    assert unknown.unknown(not_started) == {
        "workers": unknown.NOT_STARTED,
        "blocks": unknown.NOT_STARTED,
    }


def test_failures_show_where_on_which_attempt_and_how_the_error_ends(run_dir: Path) -> None:
    view = RunView(run_dir)
    view.update()
    refused, user = view.as_dict()["failures"]  # newest first
    assert (user["site"], user["attempt"], user["kind"]) == ("a", 1, "OSError")
    assert user["message"] == "OSError: disk full"  # read from results.bin, long as it is
    assert (run_dir / RESULTS).stat().st_size > len(LONG_ERROR) - 1
    assert user["lines"][0] == "Traceback (most recent call last):" and len(user["lines"]) == 8
    assert (refused["site"], refused["attempt"]) == (None, 0)
    assert refused["message"] == "BudgetExceeded: budget reached"


def test_the_event_log_says_site_lost_and_back_failover_and_pre_flight(run_dir: Path) -> None:
    view = RunView(run_dir)
    view.update()
    texts = [(e["site"], e["text"]) for e in reversed(view.as_dict()["events"])]
    assert texts == [
        (None, "run started"),
        ("b", "stopped: endpoint stopped"),
        ("b", "t000005 failed over to a"),
        ("b", "pre-flight: workers run python 3.11.2, sdk 4.19.0"),
        ("b", "back"),
        ("b", "back (online)"),
        ("b", "alert sent: site_back"),
        (None, "run ended: its client shut down"),
    ]


def test_a_journal_read_in_pieces_gives_what_a_whole_read_gives(
    run_dir: Path, tmp_path: Path
) -> None:
    whole = RunView(run_dir)
    whole.update()
    data = (run_dir / JOURNAL).read_bytes()
    growing = tmp_path / "growing" / run_dir.name
    growing.mkdir(parents=True)
    (growing / RESULTS).write_bytes((run_dir / RESULTS).read_bytes())
    pieces = RunView(growing)
    cuts = [*sorted(random.Random(7).sample(range(1, len(data)), 40)), len(data)]
    written = 0
    with (growing / JOURNAL).open("ab") as f:
        for cut in cuts:  # most cuts fall inside a line: the writer mid-write
            f.write(data[written:cut])
            f.flush()
            written = cut
            pieces.update()
            assert pieces.offset == data.rfind(b"\n", 0, cut) + 1  # whole lines only
    assert pieces.as_dict() == whole.as_dict()
    assert whole.skipped == 0


def test_a_torn_last_line_waits_until_it_is_whole(run_dir: Path) -> None:
    view = RunView(run_dir)
    view.update()
    before = view.as_dict()["counts"]
    line = b'{"e":"T","id":"t000009","f":0,"a":"00\\nargs"}\n'
    with (run_dir / JOURNAL).open("ab") as f:
        f.write(line[:20])
        f.flush()
        assert view.update() == 0 and view.as_dict()["counts"] == before
        f.write(line[20:])
    assert view.update() == 1
    assert view.as_dict()["counts"]["tasks"] == before["tasks"] + 1
    assert view.skipped == 0


def test_lines_that_are_no_event_are_counted_and_passed_over(run_dir: Path) -> None:
    view = RunView(run_dir)
    view.update()
    before = view.as_dict()
    with (run_dir / JOURNAL).open("ab") as f:
        f.write(b'{"e":"T","id":"t0000\xff\n{"e":"d","ok":1}\nnot json\n\n{"e":"zz"}\n')
    assert view.update() == 5
    after = view.as_dict()
    assert after["skipped_lines"] == 4 and after["counts"] == before["counts"]


def test_the_journal_reader_keeps_the_last_status(run_dir: Path) -> None:
    record = read_journal(run_dir)
    assert record.skipped == []
    assert record.status == _status(50.0, True, 5)


def test_buckets_stay_bounded_and_keep_their_sums() -> None:
    buckets = Buckets(T0)
    buckets.add_span("s", T0 + 0.5, T0 + 2.5)  # 2 s over three buckets
    assert buckets.rates("s", 3) == [0.5, 1.0, 0.5]
    for day in range(1, 8):  # a week-long run: the width doubles, the series does not grow
        buckets.add_span("s", T0 + day * 86400, T0 + day * 86400 + 100)
        buckets.add("n", T0 + day * 86400)
    assert buckets.length <= MAX_BUCKETS
    total = sum(r * buckets.width for r in buckets.rates("s", buckets.length))
    assert total == pytest.approx(2 + 7 * 100, rel=1e-3)
    assert sum(buckets.rates("n", buckets.length)) * buckets.width == pytest.approx(7)


def test_a_run_is_finished_live_or_killed(run_dir: Path, tmp_path: Path) -> None:
    finished = RunView(run_dir)
    finished.update()
    assert run_state(finished) is RunState.FINISHED
    # The same run with its last lines (the end) cut off: its client never shut down.
    cut = tmp_path / "runs" / "20261207-cut"
    cut.mkdir()
    lines = (run_dir / JOURNAL).read_bytes().splitlines(keepends=True)
    (cut / JOURNAL).write_bytes(b"".join(lines[:-1]))
    killed = RunView(cut)
    killed.update()
    old = time.time() - 3600
    os.utime(cut / JOURNAL, (old, old))
    assert run_state(killed) is RunState.KILLED  # its status names another host
    assert run_state(killed, now=old + 1) is RunState.LIVE  # it grew a second ago
    runs = Runs(tmp_path / "runs")
    assert runs.names() == ["20261207-run", "20261207-cut"]
    assert [s["state"] for s in runs.summaries()] == ["finished", "killed"]
    here = Journal(cut)  # a quiet run whose client, on this host, is still running
    here.status(replace(_status(60.0, True, 5), host=socket.gethostname()))
    here.close()
    os.utime(cut / JOURNAL, (old, old))
    killed.update()
    assert run_state(killed) is RunState.LIVE
    for name in ("..", ".", "../runs/20261207-run", "20261207-run/..", "", "/etc"):
        with pytest.raises(UnknownRun):
            runs.view(name)
