"""Late binding (policy ``soonest``) over two embedded sites, one three times slower."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from chiltepin.errors import ChiltepinError
from chiltepin.federation import Federation
from chiltepin.federation.journal import events, read_journal
from chiltepin.federation.journal_format import DoneEvent
from chiltepin.federation.states import TaskState
from chiltepin.report import build_report
from chiltepin.system.waiting import wait_until
from tests.federation import tasks
from tests.federation.journal_lines import task_lines

FAST = ["tolerance.worker_heartbeat_period=1", "tolerance.worker_heartbeat_threshold=3"]
WORKERS = 2
PREFETCH = 2
COLD_WINDOW = WORKERS + PREFETCH  # a site short of workers: its capacity plus prefetch


def sites() -> dict[str, dict]:
    def site(*extra: str) -> dict:
        return {
            "kind": "local",
            "site": "localhost",
            "set": [*FAST, *extra],
            "options": {"max_workers_per_node": WORKERS},
            "prefetch": PREFETCH,
        }

    return {
        "fast": site(),
        "slow": site(
            'worker_init=["export CHILTEPIN_TEST_PACE=3"]', "limits.max_walltime=01:00:00"
        ),
    }


class Watch:
    """Samples, while a run goes on, the most attempts each site had out at once (from
    the backends' own in-flight tables), its largest window, and the most tasks held on
    the client."""

    def __init__(self, fed: Federation) -> None:
        self.fed = fed
        self.most_out: Counter[str] = Counter()
        self.most_window: Counter[str] = Counter()
        self.most_held = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            for name, backend in self.fed.placement.backends.items():
                self.most_out[name] = max(self.most_out[name], backend.outstanding)
                window = self.fed.conductor.binder.window(name)
                self.most_window[name] = max(self.most_window[name], window)
            self.most_held = max(self.most_held, self.fed.conductor.binder.held)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    with Federation(sites(), run_dir=tmp_path_factory.mktemp("run"), progress=False) as fed:
        assert fed.policy.value == "soonest"  # the default
        yield fed


def test_no_site_holds_more_than_its_window_and_the_slow_site_gets_less(
    federation: Federation,
) -> None:
    before = {c.site: c.tasks for c in federation.summary()}
    with Watch(federation) as watch:
        results = list(federation.map(tasks.paced, range(60), [0.3] * 60))
    assert results == list(range(60))
    placed = {c.site: c.tasks - before[c.site] for c in federation.summary()}
    for name in ("fast", "slow"):
        # never more out than the window allowed, and the window stays a few tasks (its
        # workers, the prefetch, what covers the round trip), not a share of the run
        assert watch.most_out[name] <= watch.most_window[name], (name, watch.most_out)
        assert watch.most_window[name] <= 60 // 6, (name, watch.most_window)
    assert watch.most_held > 0, "nothing was ever held on the client"
    assert placed["fast"] + placed["slow"] == 60
    assert placed["slow"] * 2 < placed["fast"], placed  # a third of the throughput
    believed = {e["site"]: e for e in federation.estimates.snapshot()}
    assert believed["slow"]["run_s"] > 2 * believed["fast"]["run_s"], believed


def test_a_pinned_task_waits_for_its_site_without_blocking_others(
    federation: Federation,
) -> None:
    pinned = [federation.submit(tasks.paced, i, 0.4, site="slow") for i in range(8)]
    free = [federation.submit(tasks.paced, i, 0.1) for i in range(4)]
    concurrent.futures.wait(free, timeout=60)
    assert [f.result(0) for f in free] == list(range(4))
    assert not all(f.done() for f in pinned), "the free tasks waited behind the pinned ones"
    assert [f.result(60) for f in pinned] == list(range(8))
    assert {f.site for f in pinned} == {"slow"} and {f.attempts for f in pinned} == {1}


def test_a_walltime_that_fits_no_site_fails_at_submit_naming_each_limit(
    federation: Federation,
) -> None:
    journal = federation.run_dir / "journal.jsonl"
    lines = task_lines(journal)
    with pytest.raises(
        ChiltepinError,
        match=r"walltime 30:00:00 fits no site the task may use \(fast allows at most 24:00:00,"
        r" slow allows at most 01:00:00\)",
    ):
        federation.submit(tasks.square, 3, resources={"walltime": "30:00:00"})
    with pytest.raises(ChiltepinError, match=r"fits no site .*\(slow allows at most 01:00:00\)"):
        federation.submit(tasks.square, 3, site="slow", resources={"walltime": "02:00:00"})
    assert task_lines(journal) == lines  # nothing was submitted
    # (a local site takes no walltime option, so only where it would go is checked here)
    fits = federation.placement.matching(frozenset(), None, None, "02:00:00")
    assert [b.name for b in fits] == ["fast"]


def test_every_result_exactly_once_in_the_journal(federation: Federation) -> None:
    record = read_journal(federation.run_dir)
    settled = [t for t in record.tasks.values() if t.outcome is not None]
    assert settled and all(t.outcome.ok for t in settled)
    done = Counter(e.id for e in events(federation.run_dir) if isinstance(e, DoneEvent))
    assert set(done.values()) == {1}


def test_live_counts_by_state_follow_the_tasks(federation: Federation, tmp_path: Path) -> None:
    """While tasks are blocked, each is held on the client or out at a site (running only
    where a worker was free for it), as many held as the binder holds; once released,
    every one is counted succeeded."""
    release = tmp_path / "release"
    before = federation.states()
    futures = [federation.submit(tasks.wait_for, str(release), i) for i in range(12)]

    def out() -> dict[TaskState, int]:
        now = federation.states()
        return {s: now[s] - before[s] for s in TaskState if now[s] != before[s]}

    wait_until(lambda: out().get(TaskState.HELD, 0) > 0, 60, what="tasks held beyond the windows")
    counts = out()
    assert counts[TaskState.HELD] == federation.conductor.binder.held
    assert sum(counts.values()) == 12
    assert set(counts) <= {TaskState.HELD, TaskState.PLACED, TaskState.RUNNING}
    assert counts.get(TaskState.RUNNING, 0) <= 2 * WORKERS
    release.touch()
    assert [f.result(60) for f in futures] == list(range(12))
    wait_until(lambda: out() == {TaskState.SUCCEEDED: 12}, 10, what="all 12 counted succeeded")


def test_held_tasks_fail_fast_when_no_healthy_site_may_take_them(tmp_path: Path) -> None:
    with Federation(sites(), run_dir=tmp_path, progress=False) as fed:
        fed.placement.backends["slow"].mark_unhealthy("stopped for the test")
        future = fed.submit(tasks.square, 2, site="slow")
        with pytest.raises(ChiltepinError, match="site 'slow' is unavailable: stopped for"):
            future.result(10)
        assert fed.submit(tasks.square, 2).result(60) == 4


def test_tasks_waiting_on_a_site_without_workers_are_raced_and_the_duplicate_dropped(
    tmp_path: Path,
) -> None:
    """``cold`` takes 12 s to start its workers (a batch queue's wait): the tasks of its
    window (declared capacity plus prefetch: the demand for all its blocks) are raced on
    ``warm``'s idle workers and settle there; when ``cold`` finally runs them too, those
    results are counted as duplicates and dropped."""
    both = sites()
    both["cold"] = {**both.pop("slow"), "set": [*FAST, 'worker_init=["sleep 12"]']}
    both["warm"] = both.pop("fast")
    with Federation(both, run_dir=tmp_path, progress=False) as fed:
        futures = [fed.submit(tasks.paced, i, 0.2) for i in range(8)]
        assert [f.result(60) for f in futures] == list(range(8))
        raced = [f for f in futures if f.attempts == 2]
        assert len(raced) == COLD_WINDOW and {f.site for f in raced} == {"warm"}
        wait_until(
            lambda: {c.site: c.duplicates for c in fed.summary()}["cold"] == COLD_WINDOW,
            60,
            what="cold's late runs to come back as duplicates",
        )
        summary = {c.site: c for c in fed.summary()}
    assert summary["warm"].raced == COLD_WINDOW and summary["cold"].succeeded == 0
    done = [e for e in events(tmp_path) if isinstance(e, DoneEvent)]
    assert len(done) == 8  # each task settled once
    report = {r.site: r for r in build_report(tmp_path).sites}
    assert report["cold"].tasks == COLD_WINDOW and report["cold"].retries == 0  # a race, no retry


def test_a_cold_site_holds_no_task_once_a_warm_idle_worker_would_finish_it_sooner(
    tmp_path: Path,
) -> None:
    """Both sites start as the federation opens; ``cold``'s workers take 40 s. Of a burst
    that fills both windows, ``cold``'s share is raced on ``warm`` as soon as ``warm``'s
    workers are idle (a cold site's start is unknown: any warm worker is sooner), not
    ``race_after_s`` later (30 s here, which the old rule waited): the burst is done in a
    few task times, long before ``cold`` has a worker, and each task settles once."""
    both = sites()
    both["cold"] = {**both.pop("slow"), "set": [*FAST, 'worker_init=["sleep 40"]']}
    both["warm"] = both.pop("fast")
    with Federation(both, run_dir=tmp_path, progress=False) as fed:
        fed.conductor.binder.race_after_s = 30.0
        warm, cold = fed.placement.backends["warm"], fed.placement.backends["cold"]
        wait_until(lambda: (warm.live_workers or 0) == WORKERS, 90, what="warm's workers")
        started = time.monotonic()
        futures = [fed.submit(tasks.paced, i, 0.2) for i in range(2 * COLD_WINDOW)]
        assert [f.result(60) for f in futures] == list(range(2 * COLD_WINDOW))
        took_s = time.monotonic() - started
        assert not cold.live_workers  # all of it done before cold had a worker
        summary = {c.site: c for c in fed.summary()}
    assert took_s < 20  # not the 30 s a task waited on a cold site before it was raced
    assert {f.site for f in futures} == {"warm"}
    assert summary["warm"].raced == COLD_WINDOW and summary["cold"].succeeded == 0
    done = [e for e in events(tmp_path) if isinstance(e, DoneEvent)]
    assert sorted(e.id for e in done) == sorted({e.id for e in done})  # once each
    assert len(done) == 2 * COLD_WINDOW
