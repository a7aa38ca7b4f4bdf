"""A federated run's data staging reaches its journal, its dashboard view and /metrics:
local copies on an embedded site, and Globus Transfer through the stand-in (its real
copies), each batch once as it starts and once per copy or Transfer task as it ends, with
the files and bytes actually written; a transfer that fails shows failed with its error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chiltepin.dashboard.server import Dashboard
from chiltepin.dashboard.view import RunView
from chiltepin.federation import Federation, SitePath
from chiltepin.federation.journal import events
from chiltepin.federation.journal_format import TransferEvent
from chiltepin.staging import StagingError
from chiltepin.testing import GlobusStandIn
from tests.dashboard.test_metrics import scrape
from tests.staging import tasks
from tests.staging.test_federation_staging import sites as transfer_sites

MEMBERS = 6


def transfers(run_dir: Path) -> list[TransferEvent]:
    return [e for e in events(run_dir) if isinstance(e, TransferEvent)]


def ended(run: list[TransferEvent], direction: str) -> list[TransferEvent]:
    return [e for e in run if e.direction == direction and e.state != "active"]


def inputs(home: Path) -> int:
    """The shared input and each member's own; their size in bytes."""
    (home / "inputs").mkdir(parents=True)
    (home / "inputs" / "shared.txt").write_text("shared|" * 50)
    for i in range(MEMBERS):
        (home / "inputs" / f"in-{i}.txt").write_text(f"member-{i}" * (i + 1))
    return sum(f.stat().st_size for f in (home / "inputs").iterdir())


def submit(fed: Federation, home: str, site_dir: str, ledger: Path) -> list:
    return [
        fed.submit(
            tasks.combine,
            SitePath("{scratch}/shared.txt"),
            SitePath(f"{{scratch}}/in-{i}.txt"),
            SitePath(f"{{scratch}}/out-{i}.txt"),
            str(ledger),
            stage_in=[
                (f"{home}/inputs/shared.txt", f"{site_dir}/shared.txt"),
                (f"{home}/inputs/in-{i}.txt", f"{site_dir}/in-{i}.txt"),
            ],
            stage_out=[(f"{site_dir}/out-{i}.txt", f"{home}/outputs/out-{i}.txt")],
        )
        for i in range(MEMBERS)
    ]


def check_view_and_metrics(run_dir: Path, run: list[TransferEvent]) -> list[dict]:
    """The view's rows and the scraped counters equal the journal's sums."""
    view = RunView.open(run_dir)
    view.update()
    rows = view.transfer_rows()
    for row in rows:
        mine = [
            e
            for e in run
            if (e.direction, e.source, e.destination)
            == (row["direction"], row["source"], row["destination"])
        ]
        done = [e for e in mine if e.state != "active"]
        assert row["batches"] == len(done)
        assert row["ok"] == sum(e.state == "ok" for e in done)
        assert row["failed"] == sum(e.state == "failed" for e in done)
        assert (row["files"], row["bytes"]) == (
            sum(e.files for e in done),
            sum(e.bytes for e in done),
        )
        assert row["in_flight"] == 0
    with Dashboard(run_dir.parent) as served:
        samples = scrape(served)
    for row in rows:
        labels = {
            "run": run_dir.name,
            "direction": row["direction"],
            "source": row["source"],
            "destination": row["destination"],
        }
        key = frozenset(labels.items())
        assert samples[("chiltepin_transfer_bytes_total", key)] == row["bytes"]
        assert samples[("chiltepin_transfer_files_total", key)] == row["files"]
        failed = frozenset({**labels, "state": "failed"}.items())
        assert samples[("chiltepin_transfer_batches_total", failed)] == row["failed"]
    return rows


def test_local_staging_is_journalled_viewed_and_scraped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    size_in = inputs(home)
    sites = {
        "local": {
            "kind": "local",
            "site": "localhost",
            "options": {"max_workers_per_node": 2},
            "set": [f"transfer.scratch={tmp_path}/site/{{run_id}}"],
        }
    }
    run_dir = tmp_path / "runs" / "local-run"
    with Federation(sites, run_dir=run_dir, progress=False) as fed:
        results = [
            f.result(120)
            for f in submit(fed, f"file://{home}", "file://{scratch}", tmp_path / "ledger")
        ]
        missing = fed.submit(
            tasks.size,
            SitePath("{scratch}/gone.txt"),
            stage_in=[(f"file://{home}/inputs/gone.txt", "file://{scratch}/gone.txt")],
        )
        with pytest.raises(StagingError, match=r"gone\.txt"):
            missing.result(120)
    assert results == [f"out-{i}.txt" for i in range(MEMBERS)]
    size_out = sum(f.stat().st_size for f in (home / "outputs").iterdir())

    run = transfers(run_dir)
    staged_in = ended(run, "in")
    assert sum(e.pairs for e in staged_in) == MEMBERS + 1 + 1  # shared once, own, gone
    assert sum(e.files for e in staged_in) == MEMBERS + 1
    assert sum(e.bytes for e in staged_in) == size_in
    assert all((e.source, e.destination, e.task) == ("local", "local", None) for e in staged_in)
    staged_out = ended(run, "out")
    assert all(e.state == "ok" for e in staged_out)
    assert (sum(e.files for e in staged_out), sum(e.bytes for e in staged_out)) == (
        MEMBERS,
        size_out,
    )
    assert len(run) < 4 * MEMBERS  # batches, not a line per pair
    (failed,) = [e for e in staged_in if e.state == "failed"]
    assert failed.pairs == 1 and failed.error is not None and "gone.txt" in failed.error

    rows = check_view_and_metrics(run_dir, run)
    (row_in,) = [r for r in rows if r["direction"] == "in"]
    assert row_in["failed"] == 1 and "gone.txt" in row_in["last_error"]


def test_transfer_staging_is_journalled_per_transfer_task(
    standin: GlobusStandIn, tmp_path: Path
) -> None:
    home_root = tmp_path / "home"
    size_in = inputs(home_root)
    home = standin.add_collection(f"home-{tmp_path.name}", root=home_root)
    run_dir = tmp_path / "runs" / "transfer-run"
    sites = transfer_sites(standin, tmp_path)
    del sites["b"]
    before = standin.transfer.calls["transfer_submit"]  # the stand-in serves the package
    with Federation(sites, run_dir=run_dir, progress=False) as fed:
        futures = submit(fed, f"globus://{home}", "globus://{collection}{scratch}", tmp_path / "l")
        results = [f.result(120) for f in futures]
        missing = fed.submit(
            tasks.size,
            SitePath("{scratch}/gone.txt"),
            stage_in=[(f"globus://{home}/inputs/gone.txt", "globus://{collection}{scratch}/g")],
        )
        with pytest.raises(StagingError, match=r"gone\.txt"):
            missing.result(120)
    assert results == [f"out-{i}.txt" for i in range(MEMBERS)]
    size_out = sum(f.stat().st_size for f in (home_root / "outputs").iterdir())

    run = transfers(run_dir)
    done = [e for e in run if e.state != "active"]
    submitted = standin.transfer.calls["transfer_submit"] - before
    assert len(done) == submitted  # one line per Transfer task
    assert all(e.task for e in done) and len({e.task for e in done}) == submitted
    staged_in, staged_out = ended(run, "in"), ended(run, "out")
    assert {(e.source, e.direction) for e in staged_in} == {(home, "in")}
    assert {(e.destination, e.direction) for e in staged_out} == {(home, "out")}
    ok_in = [e for e in staged_in if e.state == "ok"]
    assert (sum(e.files for e in ok_in), sum(e.bytes for e in ok_in)) == (MEMBERS + 1, size_in)
    assert (sum(e.files for e in staged_out), sum(e.bytes for e in staged_out)) == (
        MEMBERS,
        size_out,
    )
    (failed,) = [e for e in staged_in if e.state == "failed"]
    assert failed.pairs == 1 and failed.files == 0
    assert failed.error is not None and "gone.txt" in failed.error

    rows = check_view_and_metrics(run_dir, run)
    (row_in,) = [r for r in rows if r["direction"] == "in"]
    assert row_in["failed"] == 1 and row_in["last_task"] == failed.task
