"""``StagingQueue``: requests from many tasks batched into few ``Stager`` calls; a pair in
flight shared; a settled pair forgotten (a failure at once, a success once it leaves a
bounded record), so the queue holds nothing for a task that is done with it."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import wait
from pathlib import Path
from typing import Any

import pytest

from chiltepin.federation.staging import Pair, StagingQueue
from chiltepin.staging import Stager, StagingError
from chiltepin.staging.results import StagingReport
from tests.staging.local_pairs import pair


class Counting(Stager):
    """A real local Stager that notes every batch, and can be held inside a call."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[Pair]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.entered = threading.Event()

    def stage(self, pairs: Sequence[Any], **kwargs: Any) -> StagingReport:  # type: ignore[override]
        self.batches.append(list(pairs))
        self.entered.set()
        self.hold.wait(10)
        return super().stage(pairs, **kwargs)

    def staged(self, pair: Pair) -> int:
        return sum(batch.count(pair) for batch in self.batches)


@pytest.fixture
def stager() -> Counting:
    return Counting()


@pytest.fixture
def queue(stager: Counting) -> Iterator[StagingQueue]:
    q = StagingQueue(lambda: stager, window_s=0.05, remember=4)
    yield q
    q.close()


def forgotten(queue: StagingQueue, remember: int = 4) -> bool:
    return queue.in_flight == 0 and queue.remembered <= remember


def test_a_fanout_is_one_stager_call_and_a_shared_pair_moves_once(
    tmp_path: Path, stager: Counting, queue: StagingQueue
) -> None:
    shared = pair(tmp_path, "shared.txt", "shared")
    own = [pair(tmp_path, f"in-{i}.txt", str(i)) for i in range(20)]
    futures = [queue.request([shared, p], direction="in") for p in own]
    wait(futures, 10)
    assert all(f.result() is None for f in futures)
    assert len(stager.batches) == 1 and stager.staged(shared) == 1
    assert (tmp_path / "site" / "in-7.txt").read_text() == "7"
    assert forgotten(queue)


def test_a_pair_in_flight_is_shared_not_staged_again(
    tmp_path: Path, stager: Counting, queue: StagingQueue
) -> None:
    shared = pair(tmp_path, "shared.txt", "shared")
    stager.hold.clear()
    first = queue.request([shared], direction="in")
    assert stager.entered.wait(10)  # the Stager is copying it now
    later = [queue.request([shared], direction="in") for _ in range(5)]
    stager.hold.set()
    assert all(f.result(10) is None for f in [first, *later])
    assert stager.staged(shared) == 1


def test_a_failed_pair_is_forgotten_and_tried_again(
    tmp_path: Path, stager: Counting, queue: StagingQueue
) -> None:
    missing = pair(tmp_path, "late.txt")
    with pytest.raises(StagingError, match=r"late\.txt") as caught:
        queue.request([missing], direction="in").result(10)
    assert caught.value.failed
    assert forgotten(queue)
    pair(tmp_path, "late.txt", "here now")  # the source appears: a new request stages it
    assert queue.request([missing], direction="in").result(10) is None
    assert stager.staged(missing) == 2


def test_a_bounded_record_keeps_a_shared_input_while_it_is_used(
    tmp_path: Path, stager: Counting, queue: StagingQueue
) -> None:
    shared = pair(tmp_path, "shared.txt", "shared")
    for i in range(12):  # one task at a time, each with its own input beside the shared one
        queue.request([shared, pair(tmp_path, f"in-{i}.txt", str(i))], direction="in").result(10)
    assert stager.staged(shared) == 1  # asked for by every task: never left the record
    assert len(stager.batches) == 12 and forgotten(queue)
    first = pair(tmp_path, "in-0.txt")  # long gone from the record: staged again (a check)
    before = len(stager.batches)
    assert queue.request([first], direction="in").result(10) is None
    assert stager.staged(first) == 2 and len(stager.batches) == before + 1


def test_nothing_to_stage_is_done_at_once(queue: StagingQueue) -> None:
    assert queue.request([], direction="in").done()


def test_close_stages_what_is_waiting(tmp_path: Path, stager: Counting) -> None:
    q = StagingQueue(lambda: stager, window_s=60)
    future = q.request([pair(tmp_path, "a.txt", "a")], direction="in")
    q.close()
    assert future.result(0) is None
    assert not q.request(
        [pair(tmp_path, "b.txt", "b")], direction="in"
    ).done()  # closed: not staged
