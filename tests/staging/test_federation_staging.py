"""Federation tasks with stage_in/stage_out through Globus Transfer (the stand-in's real
copies) over two sites, one of which dies mid-run: every output arrives home exactly once."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest

from chiltepin.federation import Federation, SitePath
from chiltepin.federation.journal import read_journal
from chiltepin.staging import StagingError
from chiltepin.testing import GlobusStandIn
from tests.staging import tasks

FAST = [
    "tolerance.worker_heartbeat_period=1",
    "tolerance.worker_heartbeat_threshold=3",
    "tolerance.max_retries_on_system_failure=0",
]


def sites(standin: GlobusStandIn, tmp: Path) -> dict:
    entries = {}
    for name in ("a", "b"):
        collection = standin.add_collection(f"{name}-scratch-{tmp.name}", root="/")
        entries[name] = {
            "kind": "local",
            "site": "localhost",
            "options": {"max_workers_per_node": 2},
            "set": [
                *FAST,
                f"transfer.collection={collection}",
                f"transfer.scratch={tmp}/site-{name}/{{run_id}}",
            ],
        }
    return entries


def test_fifty_tasks_stage_in_and_out_across_a_site_failure(
    standin: GlobusStandIn, tmp_path: Path
) -> None:
    home_root = tmp_path / "home"
    (home_root / "inputs").mkdir(parents=True)
    home = standin.add_collection(f"home-{tmp_path.name}", root=home_root)
    (home_root / "inputs" / "shared.txt").write_text("shared|")
    for i in range(50):
        (home_root / "inputs" / f"in-{i}.txt").write_text(f"member-{i}")
    ledger = str(tmp_path / "ledger.txt")
    site_dir = "globus://{collection}{scratch}"

    with Federation(
        sites(standin, tmp_path), run_dir=tmp_path / "run", progress=False, policy="round_robin"
    ) as fed:
        futures = [
            fed.submit(
                tasks.combine,
                SitePath("{scratch}/shared.txt"),
                SitePath(f"{{scratch}}/in-{i}.txt"),
                SitePath(f"{{scratch}}/out-{i}.txt"),
                ledger,
                stage_in=[
                    (f"globus://{home}/inputs/shared.txt", f"{site_dir}/shared.txt"),
                    (f"globus://{home}/inputs/in-{i}.txt", f"{site_dir}/in-{i}.txt"),
                ],
                stage_out=[(f"{site_dir}/out-{i}.txt", f"globus://{home}/outputs/out-{i}.txt")],
            )
            for i in range(50)
        ]
        next(iter(fed.as_completed(futures))).result(120)
        for engine in fed.placement.backends["a"]._engines.values():  # site a dies
            for job in engine.engine.executor.provider.resources.values():
                os.killpg(os.getpgid(job["remote_pid"]), signal.SIGKILL)
        results = [f.result(timeout=180) for f in futures]
        summary = {c.site: c for c in fed.summary()}

    assert results == [f"out-{i}.txt" for i in range(50)]
    outputs = sorted(p.name for p in (home_root / "outputs").iterdir())
    assert outputs == sorted(f"out-{i}.txt" for i in range(50))
    for i in range(50):
        assert (home_root / "outputs" / f"out-{i}.txt").read_text() == f"SHARED|MEMBER-{i}"
    assert summary["a"].failovers >= 1
    record = read_journal(tmp_path / "run")
    assert all(t.outcome and t.outcome.ok for t in record.tasks.values())
    # the shared input moved once per site, not once per task
    transfers = standin.transfer.calls["transfer_submit"]
    assert 0 < transfers < 50, f"{transfers} Transfer tasks for 50 tasks: batching was defeated"
    print(f"{transfers} Transfer tasks for 50 tasks x 3 items")
    assert set(Counter(Path(ledger).read_text().split())) == set(outputs)  # all ran


def test_failed_stage_in_names_the_item(standin: GlobusStandIn, tmp_path: Path) -> None:
    home = standin.add_collection(f"home2-{tmp_path.name}", root=tmp_path)
    with Federation(sites(standin, tmp_path), run_dir=tmp_path / "run", progress=False) as fed:
        future = fed.submit(
            tasks.combine,
            "x",
            "y",
            "z",
            "w",
            stage_in=[(f"globus://{home}/missing.nc", "globus://{collection}{scratch}/m.nc")],
        )
        with pytest.raises(StagingError, match=r"missing\.nc"):
            future.result(120)
        assert future.attempts == 1
