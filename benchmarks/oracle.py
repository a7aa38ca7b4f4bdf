"""The placement benchmark's hindsight oracle, apart from Slurm so it can be tested alone.

The oracle is the shortest makespan in which the workers a run actually had could have
done every task: each worker available over its block's interval, each task taking its set
time on that site. For identical tasks this is exact: the smallest ``T`` with ``sum over
workers of floor((min(T, end) - start) / task_s) >= tasks``. It counts no round trip to the
service and no worker start-up after a block starts.

When it cannot be computed (no blocks were seen, or the blocks seen could not have done
every task by the deadline) the answer is :class:`Unmeasured` with the reason, never
infinity: a makespan divided by infinity is 0, which would pass any "at most" target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from chiltepin.cluster.slurm import JobRecord


class Block(NamedTuple):
    """One batch job's workers: available from ``start`` until ``end`` (seconds), on
    ``nodes`` nodes."""

    start: float
    end: float
    nodes: int


class Site(NamedTuple):
    """A site's blocks, and the time one task takes there."""

    blocks: Sequence[Block]
    task_s: float


@dataclass(frozen=True)
class Unmeasured:
    """The oracle could not be computed, and why."""

    why: str


def site_blocks(jobs: Sequence[JobRecord], t0: float, stopped_at: float = math.inf) -> list[Block]:
    """A site's blocks from Slurm's record of its batch jobs (``t0``: the run's start, in
    the same epoch seconds; ``stopped_at``: when its endpoint was stopped, from ``t0``).

    A block starts at the job's StartTime (Slurm keeps whole seconds: at most the true
    start, so the oracle stays a bound); a job that never ran is no block. A block stays
    available until the run ends, unless its endpoint was stopped: a provider scales in a
    block that ran out of work, so when a live site's blocks ended says what the placement
    did, not what it could have done. A stopped site's block lasts until the stop, or
    until Slurm's EndTime (+1 s for the truncation) if its workers outlived the stop; a
    block Slurm records no end for (still running) stays.
    """
    blocks = []
    for job in jobs:
        if job.start is None:
            continue
        end = math.inf
        if stopped_at < math.inf and job.end is not None:
            end = max(stopped_at, job.end + 1.0 - t0)
        blocks.append(Block(max(0.0, job.start - t0), end, job.nodes))
    return blocks


def oracle(
    tasks: int, sites: Sequence[Site], workers_per_node: int, deadline_s: float
) -> float | Unmeasured:
    """The shortest makespan (to 0.01 s) in which ``tasks`` identical tasks fit on the
    workers of ``sites``, or why there is none within ``deadline_s``."""
    workers = [
        (block.start, block.end, site.task_s)
        for site in sites
        for block in site.blocks
        for _ in range(block.nodes * workers_per_node)
    ]
    if not workers:
        return Unmeasured("no blocks seen")

    def done_by(t: float) -> int:
        return sum(max(0, math.floor((min(t, end) - start) / s)) for start, end, s in workers)

    low, high = 0.0, deadline_s
    if done_by(high) < tasks:
        return Unmeasured(
            f"the blocks seen could do only {done_by(high)} of {tasks} tasks"
            f" within {deadline_s:g} s"
        )
    while high - low > 0.01:
        middle = (low + high) / 2
        low, high = (low, middle) if done_by(middle) >= tasks else (middle, high)
    return high
