"""Bursts: items that keep coming are held together, up to a full batch or a deadline.

Each test leaves exactly one way for a batch to leave early (the others are set an hour
away), so what it asserts does not depend on how fast this host runs the threads. How
many deliveries a real stream makes is measured in ``benchmarks/bench_wakeups.py``.
"""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from chiltepin.client.burst import Burst
from chiltepin.system.waiting import wait_until

NEVER_S = 3600.0  # a trigger set this far away does not fire during a test
TIMEOUT_S = 30.0  # generous: only a batch that is never delivered reaches it


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.delivered = threading.Event()

    def __call__(self, batch: list[int]) -> None:
        self.batches.append(batch)
        self.delivered.set()

    def wait_for(self, count: int) -> None:
        wait_until(
            lambda: len(self.batches) >= count,
            TIMEOUT_S,
            interval=0.01,
            what=f"batch {count} to be delivered",
        )


def test_a_full_batch_leaves_at_once_and_the_rest_at_close_in_order() -> None:
    recorder = Recorder()
    burst = Burst(recorder, name="test-full", linger_s=NEVER_S, max_items=128, max_hold_s=NEVER_S)
    for i in range(128):
        burst.add(i)
    recorder.wait_for(1)  # full: nothing else could have sent it
    for i in range(128, 256):
        burst.add(i)
    recorder.wait_for(2)
    for i in range(256, 300):
        burst.add(i)
    assert len(recorder.batches) == 2  # 44 waiting: not full, not due
    burst.close()
    assert recorder.batches == [list(range(128)), list(range(128, 256)), list(range(256, 300))]


def test_items_added_while_delivering_leave_in_batches_no_larger_than_the_maximum() -> None:
    gate = threading.Event()
    recorder = Recorder()

    def slow_deliver(batch: list[int]) -> None:
        recorder(batch)
        gate.wait(TIMEOUT_S)  # the thread is busy while 300 more items arrive

    burst = Burst(slow_deliver, name="test-cap", linger_s=NEVER_S, max_items=8, max_hold_s=NEVER_S)
    for i in range(8):
        burst.add(i)
    recorder.wait_for(1)
    for i in range(8, 308):
        burst.add(i)
    gate.set()
    burst.close()
    assert max(len(b) for b in recorder.batches) == 8
    assert [i for b in recorder.batches for i in b] == list(range(308))


def test_a_lone_item_leaves_after_the_linger() -> None:
    recorder = Recorder()
    burst = Burst(recorder, name="test-lone", linger_s=0.05, max_hold_s=NEVER_S)
    added = time.monotonic()
    burst.add(7)
    assert recorder.delivered.wait(TIMEOUT_S)  # the linger is all that can send it
    assert time.monotonic() - added >= 0.05
    burst.close()
    assert recorder.batches == [[7]]


def test_a_steady_trickle_is_not_held_past_the_deadline() -> None:
    recorder = Recorder()
    burst = Burst(recorder, name="test-trickle", linger_s=NEVER_S, max_hold_s=0.2)
    started = time.monotonic()
    sent = 0
    while not recorder.delivered.wait(0.01):  # an item every 10 ms until a batch leaves
        burst.add(sent)
        sent += 1
        assert time.monotonic() - started < TIMEOUT_S, "the deadline never sent a batch"
    # Items kept coming and no batch was full: only the deadline can have sent it.
    assert time.monotonic() - started >= 0.2
    assert recorder.batches[0] == list(range(len(recorder.batches[0])))
    burst.close()
    assert [i for b in recorder.batches for i in b] == list(range(sent))


def test_close_delivers_what_waits_and_refuses_more() -> None:
    recorder = Recorder()
    burst = Burst(recorder, name="test-close", linger_s=NEVER_S, max_hold_s=NEVER_S)
    burst.add(1)
    burst.add(2)
    burst.close()
    assert recorder.batches == [[1, 2]]
    with pytest.raises(RuntimeError, match="closed Burst"):
        burst.add(3)


def test_the_first_paced_delivery_is_not_held_back_and_the_next_waits_for_the_pace() -> None:
    """Nothing was sent before the first delivery, so the pace does not hold it; what
    arrives after it waits for the pace (here an hour: only close can send it) and then
    leaves together. Items are due at once otherwise (no linger, no hold)."""
    recorder = Recorder()
    burst = Burst(
        recorder,
        name="test-pace-first",
        linger_s=0.01,
        max_hold_s=0.0,
        min_interval=lambda: NEVER_S,
    )
    burst.add(0)
    recorder.wait_for(1)  # held back by the pace, it would not leave for an hour
    recorder.delivered.clear()
    for i in range(1, 10):
        burst.add(i)
    assert not recorder.delivered.wait(0.3)  # due, but the pace holds them
    burst.close()
    assert recorder.batches == [[0], list(range(1, 10))]


def test_paced_deliveries_keep_their_interval_and_take_what_arrived_meanwhile() -> None:
    """Items trickling in faster than the pace leave together, one delivery per interval."""
    recorder = Recorder()
    delivered_at: list[float] = []

    def deliver(batch: list[int]) -> None:
        delivered_at.append(time.monotonic())
        recorder(batch)

    burst = Burst(
        deliver, name="test-paced", linger_s=0.01, max_hold_s=0.0, min_interval=lambda: 0.5
    )
    started = time.monotonic()
    sent = 0
    while len(delivered_at) < 3:  # an item every 30 ms until three paced deliveries left
        burst.add(sent)
        sent += 1
        time.sleep(0.03)
        assert time.monotonic() - started < TIMEOUT_S, "the paced deliveries never left"
    paced_at = list(delivered_at)  # close then flushes what waits at once, unpaced
    burst.close()
    gaps = [b - a for a, b in itertools.pairwise(paced_at)]
    assert len(gaps) >= 2 and all(gap >= 0.5 for gap in gaps), gaps
    paced = (paced_at[-1] - paced_at[0]) / 0.5 + 2  # one per interval, and close's
    assert len(recorder.batches) <= paced < sent, (recorder.batches, paced)  # not one each
    assert [i for batch in recorder.batches for i in batch] == list(range(sent))
