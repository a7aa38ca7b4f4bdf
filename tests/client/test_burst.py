"""Bursts: items that keep coming are held together, up to a full batch or a deadline."""

from __future__ import annotations

import threading
import time

from chiltepin.client.burst import Burst


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.delivered = threading.Event()

    def __call__(self, batch: list[int]) -> None:
        self.batches.append(batch)
        self.delivered.set()


def feed(burst: Burst[int], count: int, gap_s: float) -> None:
    for i in range(count):
        burst.add(i)
        time.sleep(gap_s)


def test_a_stream_is_delivered_in_full_batches_in_order() -> None:
    recorder = Recorder()
    burst = Burst(recorder, name="test-stream", linger_s=0.2, max_items=128, max_hold_s=5.0)
    feed(burst, 300, 0.0005)  # faster than the linger: one stream
    burst.close()
    assert [len(b) for b in recorder.batches] == [128, 128, 44]
    assert [i for b in recorder.batches for i in b] == list(range(300))


def test_a_lone_item_leaves_after_the_linger() -> None:
    recorder = Recorder()
    burst = Burst(recorder, name="test-lone", linger_s=0.02)
    started = time.monotonic()
    burst.add(7)
    assert recorder.delivered.wait(5)
    assert time.monotonic() - started < 1.0
    burst.close()
    assert recorder.batches == [[7]]


def test_a_steady_trickle_is_not_held_past_the_deadline() -> None:
    recorder = Recorder()
    burst = Burst(recorder, name="test-trickle", linger_s=0.05, max_hold_s=0.2)
    feed(burst, 60, 0.01)  # never 50 ms apart, so only the deadline flushes
    burst.close()
    sizes = [len(b) for b in recorder.batches]
    assert sum(sizes) == 60 and len(sizes) >= 2
    assert max(sizes[:-1]) <= 30  # about 0.2 s worth of items at 100 per second
