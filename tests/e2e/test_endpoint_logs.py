"""Issue 27 (6): a real endpoint's workers do not log every task, unless its site asks for
debug.

At Parsl's default level every HTEX worker writes three lines for each task it runs. An
endpoint configured by chiltepin launches its workers with a warnings-only log config
(``worker_log_config.pkl`` in the endpoint directory), so a few hundred no-ops leave the
workers' logs as they were after start-up; with ``engine_debug`` every task is there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from globus_compute_sdk import Executor

from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint, running_site_endpoint
from tests.federation import tasks

pytestmark = [pytest.mark.rabbitmq]
TASKS = 200


@pytest.fixture(scope="module")
def endpoints(globus_standin: GlobusStandIn) -> Iterator[dict[str, SiteEndpoint]]:
    root = Path(os.environ["GLOBUS_COMPUTE_USER_DIR"])
    debug_site = ("engine_debug=true",)
    with (
        running_site_endpoint("quiet-workers", "localhost", globus_standin, root=root) as quiet,
        running_site_endpoint(
            "debug-workers", "localhost", globus_standin, root=root, overrides=debug_site
        ) as debug,
    ):
        yield {"quiet": quiet, "debug": debug}


def run(endpoint: SiteEndpoint, count: int) -> None:
    with Executor(endpoint_id=endpoint.endpoint_id, user_endpoint_config={}) as ex:
        futures = [ex.submit(tasks.square, i) for i in range(count)]
        assert [f.result(timeout=120) for f in futures] == [i * i for i in range(count)]
    endpoint.remember_processes()


def engine_logs(standin: GlobusStandIn, endpoint: SiteEndpoint) -> list[Path]:
    """The managers' and workers' logs, in the endpoint's user endpoints' directories."""
    root = Path(os.environ["GLOBUS_COMPUTE_USER_DIR"])
    logs = [
        path
        for uep in standin.user_endpoints(endpoint.endpoint_id)
        for pattern in ("worker_*.log", "manager.log")
        for path in (root / uep.name).rglob(pattern)
    ]
    assert any(p.name.startswith("worker_") for p in logs), f"no worker log for {endpoint.name}"
    return logs


def size(paths: list[Path]) -> int:
    return sum(path.stat().st_size for path in paths)


def test_workers_logs_do_not_grow_per_task_at_the_default_level(
    endpoints: dict[str, SiteEndpoint], globus_standin: GlobusStandIn
) -> None:
    quiet = endpoints["quiet"]
    run(quiet, 20)  # workers up, whatever they log at start logged
    before = size(engine_logs(globus_standin, quiet))
    run(quiet, TASKS)
    logs = engine_logs(globus_standin, quiet)
    grown = size(logs) - before
    # At Parsl's INFO this is ~560 B a task (~110 kB here); a warning or two may come.
    assert grown < TASKS, f"the endpoint's worker logs grew {grown} B over {TASKS} tasks"
    assert "Received executor task" not in "".join(p.read_text() for p in logs)


def test_engine_debug_logs_every_task_again(
    endpoints: dict[str, SiteEndpoint], globus_standin: GlobusStandIn
) -> None:
    debug = endpoints["debug"]
    run(debug, 20)
    logged = "".join(p.read_text() for p in engine_logs(globus_standin, debug))
    assert logged.count("Received executor task") == 20
    assert "DEBUG" in logged
