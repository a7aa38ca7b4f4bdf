"""The placement benchmark's hindsight oracle, on blocks given by hand or from Slurm's
captured record (no Slurm runs)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path

import pytest

import tests.cluster.test_slurm_commands as slurm_tests
from benchmarks.bench_placement import POLL_S
from benchmarks.oracle import Block, Site, Unmeasured, oracle, site_blocks
from chiltepin.cluster.config import ClusterSpec, render_slurm_conf
from chiltepin.cluster.slurm import JobRecord, job_records

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


T0 = 1_796_650_000.0  # the run's start, in epoch seconds as Slurm's times are


def job(job_id: str, start: float | None, end: float | None = None, nodes: int = 1) -> JobRecord:
    """A job Slurm recorded starting ``start`` s and ending ``end`` s after ``T0``."""
    state = "RUNNING" if end is None else "COMPLETED"
    at = {key: None if s is None else T0 + s for key, s in (("start", start), ("end", end))}
    return JobRecord(job_id, state if start is not None else "CANCELLED", nodes, **at)


def test_blocks_start_at_slurm_s_start_time_and_a_job_that_never_ran_is_none() -> None:
    jobs = [job("1", 4.0, nodes=3), job("2", None), job("3", 7.0, 9.0)]
    # a live site's block ended by scale-in stays available: that end was the placement's
    assert site_blocks(jobs, T0) == [Block(4.0, math.inf, 3), Block(7.0, math.inf, 1)]
    assert site_blocks([], T0) == []


def test_a_stopped_site_s_blocks_end_at_the_stop_or_at_slurm_s_end_if_later() -> None:
    jobs = [job("1", 0.0, 2.0), job("2", 0.0, 8.0), job("3", 1.0)]
    # ended before the stop: available until it; after: until Slurm's EndTime (+1 s, as
    # Slurm keeps whole seconds); no end recorded: it stays
    assert site_blocks(jobs, T0, stopped_at=5.0) == [
        Block(0.0, 5.0, 1),
        Block(0.0, 9.0, 1),
        Block(1.0, math.inf, 1),
    ]
    stopped = site_blocks([job("1", 0.0, 2.0), job("2", 0.0, 3.0)], T0, stopped_at=5.0)
    # site b stops at 5 s having done 4 workers x 5 tasks; site a's 2 workers do the other
    # 20 of 40, done at 10 s
    result = best(40, Site(site_blocks([job("3", 0.0)], T0), 1.0), Site(stopped, 1.0))
    assert result == pytest.approx(10.0, abs=0.01)


def test_slurm_s_record_of_a_real_run_makes_the_blocks() -> None:
    # job 1 completed and 2 was cancelled while running (both 15:18:17); 3 was cancelled
    # while pending; 4 runs on two nodes from 15:18:22
    jobs = job_records((Path(slurm_tests.__file__).parent / "scontrol_show_job.txt").read_text())
    t0 = datetime.fromisoformat("2026-12-07T15:18:14").timestamp()
    assert site_blocks(jobs, t0) == [
        Block(3.0, math.inf, 1),
        Block(3.0, math.inf, 1),
        Block(8.0, math.inf, 2),
    ]


def test_the_single_host_cluster_keeps_a_job_s_record_for_many_polls(tmp_path: Path) -> None:
    spec = ClusterSpec(name="oracle", ctld_port=21000, slurmd_port=21001, state_dir=tmp_path)
    conf = render_slurm_conf(spec)
    (age,) = re.findall(r"^MinJobAge=(\d+)$", conf, re.MULTILINE)
    assert int(age) >= 10 * POLL_S, "Blocks could miss a short job's record"


def test_a_slow_site_counts_its_own_task_time() -> None:
    # site b's tasks take 3 s: by 3 s, a has done 6 and b 2
    result = best(8, Site([Block(0.0, math.inf, 1)], 1.0), Site([Block(0.0, math.inf, 1)], 3.0))
    assert result == pytest.approx(3.0, abs=0.01)


def test_blocks_that_cannot_finish_by_the_deadline_are_not_measured() -> None:
    result = best(1000, Site(site_blocks([job("1", 0.0, 2.0)], T0, stopped_at=10.0), 1.0))
    assert isinstance(result, Unmeasured)
    assert result.why == "the blocks seen could do only 20 of 1000 tasks within 300 s"
