"""chiltepin.Workflow: a Parsl DAG whose tasks choose their site per call."""

from __future__ import annotations

import operator
import uuid
from collections import Counter
from pathlib import Path

import parsl
import pytest
from globus_compute_sdk import Executor
from parsl.config import Config
from parsl.executors import GlobusComputeExecutor

from chiltepin.errors import ChiltepinError
from chiltepin.selftest.mpi import compile_mpi_hello
from chiltepin.system.waiting import wait_until
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint
from chiltepin.workflow import Workflow
from tests.workflow import tasks

SITES = {
    "a": {"kind": "local", "site": "localhost", "options": {"max_workers_per_node": 1}},
    "b": {"kind": "local", "site": "localhost", "options": {"max_workers_per_node": 1}},
}


def test_dag_across_two_sites_with_bash_and_mpi(tmp_path: Path) -> None:
    hello = compile_mpi_hello(tmp_path)
    with Workflow(SITES, run_dir=tmp_path / "run"):
        x = tasks.add(1, 2, site="a")
        y = tasks.add(x, 10, site="b")  # a future as an input: runs after x
        assert y.result(60) == 13
        pid_a, pid_b = tasks.pid(site="a").result(60), tasks.pid(site="b").result(60)
        assert pid_a != pid_b  # two sites, two worker pools
        out = tmp_path / "value.out"
        assert tasks.write_value(y, stdout=str(out), site="a").result(60) == 0
        assert out.read_text().strip() == "value=13"
        mpi_out = tmp_path / "mpi.out"
        spec = {"nodes": 1, "ranks_per_node": 2}
        assert (
            tasks.hello(str(hello), stdout=str(mpi_out), site="b", resources=spec).result(120) == 0
        )
        assert sorted(line.split(" on ")[0] for line in mpi_out.read_text().splitlines()) == [
            "rank 0 of 2",
            "rank 1 of 2",
        ]


def test_unknown_site_and_calls_outside_a_workflow(tmp_path: Path) -> None:
    with pytest.raises(ChiltepinError, match="task called outside a workflow"):
        tasks.add(1, 2)
    with Workflow(SITES, run_dir=tmp_path / "run"):
        with pytest.raises(ChiltepinError, match=r"unknown site 'c'; sites: a, b"):
            tasks.add(1, 2, site="c")
        assert tasks.add(2, 2).result(60) == 4  # placed by late binding over a and b


def test_ready_tasks_of_a_dag_flow_to_the_site_that_finishes_them_first(tmp_path: Path) -> None:
    """Calls naming no site go through the federation: a site three times slower gets
    fewer of a DAG's ready tasks, and a task waiting on their futures runs once they are in."""

    def site(name: str, pace: int) -> dict:
        init = f'worker_init=["export CHILTEPIN_TEST_SITE={name} CHILTEPIN_TEST_PACE={pace}"]'
        return {
            "kind": "local",
            "site": "localhost",
            "set": [init],
            "options": {"max_workers_per_node": 2},
        }

    with Workflow({"fast": site("fast", 1), "slow": site("slow", 3)}, run_dir=tmp_path) as wf:
        parts = [tasks.paced_site(i, 0.3) for i in range(40)]
        assert tasks.total(*parts).result(180) == sum(range(40))
        where = Counter(p.result()[1] for p in parts)
        fed = wf.federation

        def succeeded() -> int:  # a future resolves just before its site's count moves
            return sum(c.succeeded for c in fed.summary())

        wait_until(lambda: succeeded() == 41, 30, what="41 successes counted (and the sum's)")
    assert set(where) == {"fast", "slow"} and where["slow"] * 2 < where["fast"], where
    assert (tmp_path / "federation" / "journal.jsonl").exists()


def test_endpoint_site_after_a_plain_globus_compute_executor(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint, tmp_path: Path
) -> None:
    """A Workflow in a process where a plain Parsl ``GlobusComputeExecutor`` ran first.

    The SDK gives an ``Executor`` without a task group the last one any ``Executor`` used,
    and the earlier executor's result watcher lingers on that group's queue after its
    shutdown: the two then split the results and half the Workflow's tasks never return
    (seen with 1,000 tasks in benchmarks/bench_bridge.py). The Workflow's tasks must come
    back, in a task group of their own.
    """
    eid = standin_endpoint.endpoint_id
    plain_group = uuid.uuid4()
    plain = GlobusComputeExecutor(
        Executor(endpoint_id=eid, task_group_id=plain_group), label="plain"
    )
    with parsl.load(Config(executors=[plain], run_dir=str(tmp_path / "plain"))):
        assert parsl.python_app(operator.mul, executors=["plain"])(6, 7).result(120) == 42
    parsl.clear()
    with Workflow({"ep": {"endpoint_id": eid, "site": "localhost"}}, run_dir=tmp_path / "run"):
        futures = [tasks.add(i, 1, site="ep") for i in range(40)]
        assert [f.result(120) for f in futures] == list(range(1, 41))
    assert len(standin.state.task_groups[str(plain_group)].task_ids) == 1
