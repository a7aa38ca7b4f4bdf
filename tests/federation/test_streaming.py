"""A long fanout streams: inputs are pulled as results are read, and client memory stays
flat however many tasks have run (nothing of a read result is kept)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from chiltepin.federation import Federation
from tests.federation import tasks

SITES = {"local": {"kind": "local", "site": "localhost", "options": {"max_workers_per_node": 2}}}
WARM = 10_000  # results read before the first measurement: the buffer is full by then
TASKS = 40_000  # ~2 minutes of no-ops on two cores
GROWTH_PER_TASK = 1_000  # bytes: what the client may keep per task run after WARM


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    run_dir = tmp_path_factory.mktemp("run")
    with Federation(SITES, run_dir=run_dir, progress=False) as fed:
        yield fed


class Counted:
    """An input generator that says how far it has been pulled."""

    def __init__(self, n: int) -> None:
        self.pulled = 0
        self.n = n

    def __iter__(self) -> Iterator[int]:
        for i in range(self.n):
            self.pulled += 1
            yield i


def test_map_pulls_its_inputs_only_a_buffer_ahead_of_what_was_read(
    federation: Federation,
) -> None:
    inputs = Counted(60)
    results = federation.map(tasks.square, inputs, buffersize=8)
    assert inputs.pulled == 8  # submitted at once, as Executor.map does, up to the buffer
    for read, value in enumerate(results, 1):
        assert value == (read - 1) ** 2
        assert inputs.pulled <= read + 8
    assert inputs.pulled == 60


def test_as_completed_pulls_a_generator_of_submits_lazily(federation: Federation) -> None:
    inputs = Counted(40)
    submits = (federation.submit(tasks.square, x) for x in inputs)
    seen = []
    for read, future in enumerate(federation.as_completed(submits, buffersize=5), 1):
        seen.append(future.result())
        assert inputs.pulled <= read + 5
    assert sorted(seen) == [x * x for x in range(40)]
    # submit() futures are kept for as_completed() until it hands them out; these were
    assert not federation.futures


def test_client_memory_stays_flat_over_a_long_stream(federation: Federation) -> None:
    """Before streaming, each task kept about 9 KB on the client until the run ended."""
    process = psutil.Process()
    rss = 0
    for read, _value in enumerate(federation.map(tasks.square, range(TASKS)), 1):
        if read == WARM:
            rss = process.memory_info().rss
    assert _value == (TASKS - 1) ** 2
    growth = process.memory_info().rss - rss
    assert growth < GROWTH_PER_TASK * (TASKS - WARM), f"{growth / 1e6:.0f} MB"


def test_a_run_dir_journal_stays_compact(federation: Federation) -> None:
    journal = Path(federation.run_dir) / "journal.jsonl"
    tasks_run = sum(1 for _ in journal.open("rb"))  # lines, three per task
    assert journal.stat().st_size / (tasks_run / 3) <= 300
