"""The staging queue reports each batch it hands the Stager (real local copies): once as
it starts and once as it ends, per source and destination, with the files and bytes
written and a failure's first line; stage-in and stage-out are batches of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chiltepin.federation.journal_format import TransferEvent
from chiltepin.federation.staging import StagingQueue
from chiltepin.staging import Location, Stager, StagingError
from tests.staging.local_pairs import pair


@pytest.fixture
def heard() -> list[TransferEvent]:
    return []


@pytest.fixture
def queue(heard: list[TransferEvent]) -> Iterator[StagingQueue]:
    stager = Stager()
    q = StagingQueue(lambda: stager, window_s=0.2, on_batch=heard.append)
    yield q
    q.close()


def test_a_batch_is_reported_once_as_it_starts_and_once_as_it_ends(
    tmp_path: Path, queue: StagingQueue, heard: list[TransferEvent]
) -> None:
    pairs = [pair(tmp_path, f"in-{i}.txt", "x" * (100 + i)) for i in range(20)]
    futures = [queue.request([p], direction="in") for p in pairs]
    assert all(f.result(10) is None for f in futures)
    assert [(e.state, e.direction, e.source, e.destination) for e in heard] == [
        ("active", "in", "local", "local"),
        ("ok", "in", "local", "local"),
    ]
    assert [e.pairs for e in heard] == [20, 20]
    assert heard[1].files == 20
    assert heard[1].bytes == sum(100 + i for i in range(20))
    assert heard[1].error is None and heard[1].task is None


def test_an_identical_destination_is_not_counted_again(
    tmp_path: Path, queue: StagingQueue, heard: list[TransferEvent]
) -> None:
    first = pair(tmp_path, "a.txt", "same")
    assert queue.request([first], direction="in").result(10) is None
    again = (first[0], Location.parse(f"file://{tmp_path}/site/b.txt"))
    (tmp_path / "site" / "b.txt").write_text("same")
    assert queue.request([again], direction="in").result(10) is None
    assert [(e.state, e.files, e.bytes) for e in heard if e.state != "active"] == [
        ("ok", 1, 4),
        ("ok", 0, 0),
    ]


def test_a_failed_pair_ends_its_batch_failed_with_its_error(
    tmp_path: Path, queue: StagingQueue, heard: list[TransferEvent]
) -> None:
    good = pair(tmp_path, "good.txt", "fine")
    missing = pair(tmp_path, "missing.txt")
    futures = [queue.request([p], direction="out") for p in (good, missing)]
    assert futures[0].result(10) is None
    with pytest.raises(StagingError, match="missing"):
        futures[1].result(10)
    ended = [e for e in heard if e.state != "active"]
    assert len(ended) == 1
    assert (ended[0].state, ended[0].direction, ended[0].pairs, ended[0].files) == (
        "failed",
        "out",
        2,
        1,
    )
    assert ended[0].error is not None and "missing.txt" in ended[0].error
    assert "\n" not in ended[0].error


def test_inputs_and_outputs_asked_together_are_batches_of_their_own(
    tmp_path: Path, queue: StagingQueue, heard: list[TransferEvent]
) -> None:
    inputs = queue.request([pair(tmp_path, "in.txt", "in")], direction="in")
    outputs = queue.request([pair(tmp_path, "out.txt", "out!")], direction="out")
    assert inputs.result(10) is None and outputs.result(10) is None
    ended = {e.direction: (e.pairs, e.files, e.bytes) for e in heard if e.state == "ok"}
    assert ended == {"in": (1, 1, 2), "out": (1, 1, 4)}
