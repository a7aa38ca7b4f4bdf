"""The placement benchmark's hindsight oracle, on blocks given by hand (no Slurm)."""

from __future__ import annotations

import math

import pytest

from benchmarks.oracle import Block, Site, Unmeasured, oracle, site_blocks

WORKERS_PER_NODE = 2
DEADLINE_S = 300.0


def best(tasks: int, *sites: Site) -> float | Unmeasured:
    return oracle(tasks, list(sites), WORKERS_PER_NODE, DEADLINE_S)


def test_no_blocks_is_not_measured_rather_than_infinite() -> None:
    assert best(200, Site([], 1.0), Site([], 1.0)) == Unmeasured("no blocks seen")


def test_one_block_does_its_share_from_its_start() -> None:
    # one node, two workers, from 3 s: 10 tasks of 1 s take 5 rounds, done at 8 s
    result = best(10, Site([Block(3.0, math.inf, 1)], 1.0))
    assert isinstance(result, float)
    assert result == pytest.approx(8.0, abs=0.01)


def test_a_block_ending_early_leaves_the_rest_to_the_others() -> None:
    # 12 tasks on two one-node blocks from 0 s: both running on, 3 rounds (3 s); block a
    # ending at 2 s does 4 of them, and block b's 2 workers the other 8 by 4 s
    both = [Block(0.0, math.inf, 1), Block(0.0, math.inf, 1)]
    early = [Block(0.0, 2.0, 1), Block(0.0, math.inf, 1)]
    assert best(12, Site(both, 1.0)) == pytest.approx(3.0, abs=0.01)
    assert best(12, Site(early, 1.0)) == pytest.approx(4.0, abs=0.01)


def test_a_stopped_site_s_blocks_end_at_the_stop() -> None:
    stopped = site_blocks([(0.0, 1), (0.0, 1)], stopped_at=5.0)
    assert stopped == [Block(0.0, 5.0, 1), Block(0.0, 5.0, 1)]
    assert site_blocks([(4.0, 3)]) == [Block(4.0, math.inf, 3)]
    # site b stops at 5 s having done 4 workers x 5 tasks; site a's 2 workers do the other
    # 20 of 40, done at 10 s
    result = best(40, Site(site_blocks([(0.0, 1)]), 1.0), Site(stopped, 1.0))
    assert result == pytest.approx(10.0, abs=0.01)


def test_a_slow_site_counts_its_own_task_time() -> None:
    # site b's tasks take 3 s: by 3 s, a has done 6 and b 2
    result = best(8, Site([Block(0.0, math.inf, 1)], 1.0), Site([Block(0.0, math.inf, 1)], 3.0))
    assert result == pytest.approx(3.0, abs=0.01)


def test_blocks_that_cannot_finish_by_the_deadline_are_not_measured() -> None:
    result = best(1000, Site(site_blocks([(0.0, 1)], stopped_at=10.0), 1.0))
    assert isinstance(result, Unmeasured)
    assert result.why == "the blocks seen could do only 20 of 1000 tasks within 300 s"
