"""Client memory stays flat however many tasks stage their inputs: the staging queue
forgets a pair once it has settled (a long run used to keep every pair, its future and,
through the future's callbacks, its task, until the run ended).

The run is measured in a fresh (spawned) process, as a user's client would be: in the
test process, threads and malloc arenas left by earlier tests (the SDK's result watchers,
the stand-in's request threads) made the RSS grow ~2 KB per task when this test ran after
``tests/workflow`` and ``tests/dashboard``, and not when it ran alone."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import psutil

from chiltepin.federation import Federation, SitePath
from chiltepin.staging import Stager
from tests.staging import tasks

WARM = 5_000  # results read before the first measurement
TASKS = 20_000
GROWTH_PER_TASK = 300  # bytes the client may keep per staged task after WARM
BUFFER = 2_000  # tasks in flight at once


def test_client_memory_stays_flat_over_many_staged_tasks(tmp_path: Path) -> None:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
        read, growth, in_flight, remembered = child.submit(staged_run, tmp_path).result()
    assert read == TASKS
    per_task = growth / (TASKS - WARM)
    print(f"client memory growth: {per_task:.0f} bytes per staged task after {WARM}")
    assert per_task < GROWTH_PER_TASK, f"{growth / 1e6:.1f} MB over {TASKS - WARM} tasks"
    assert in_flight == 0 and remembered <= 1_024  # all settled, forgotten


def staged_run(tmp_path: Path) -> tuple[int, int, int, int]:
    """Stage and run :data:`TASKS` tasks on a local site; return the results read, the
    RSS growth after the first :data:`WARM`, and the staging queue's pairs in flight and
    remembered at the end."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "shared.txt").write_text("shared")
    for i in range(TASKS):
        (home / f"in-{i}.txt").write_text(str(i))
    sites = {
        "local": {
            "kind": "local",
            "site": "localhost",
            "options": {"max_workers_per_node": 2},
            "set": [f"transfer.scratch={tmp_path}/site/{{run_id}}"],
        }
    }

    def submits(fed: Federation) -> Iterator[Future[int]]:
        for i in range(TASKS):
            yield fed.submit(
                tasks.size,
                SitePath(f"{{scratch}}/in-{i}.txt"),
                stage_in=[
                    (f"file://{home}/shared.txt", "file://{scratch}/shared.txt"),
                    (f"file://{home}/in-{i}.txt", f"file://{{scratch}}/in-{i}.txt"),
                ],
            )

    process = psutil.Process()
    rss = 0
    stager = Stager(durability="none")  # no file-system flushes: memory is the question
    with Federation(sites, run_dir=tmp_path / "run", progress=False, staging=stager) as fed:
        for read, future in enumerate(fed.as_completed(submits(fed), buffersize=BUFFER), 1):
            assert future.result() > 0
            if read == WARM:
                rss = process.memory_info().rss
        growth = process.memory_info().rss - rss
        queue = fed.conductor.staging
    return read, growth, queue.in_flight, queue.remembered
