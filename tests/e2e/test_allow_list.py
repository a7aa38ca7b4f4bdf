"""Issue 18 (2): an endpoint that runs only allow-listed functions, end to end: the
admin allows a function with `chiltepin endpoint allow`, the endpoint registers its list,
the federation submits that function by its allowed id, and anything else fails fast."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import globus_sdk
import pytest
from click.testing import CliRunner
from globus_compute_sdk import Client, Executor

from chiltepin.cli.main import cli
from chiltepin.endpoints import lifecycle
from chiltepin.federation import Federation
from chiltepin.federation.failures import TaskLost
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint, start_site_endpoint, stop_site_endpoint
from tests.federation import tasks

pytestmark = [pytest.mark.rabbitmq]
ALLOWED = "tests.federation.tasks:square"


@pytest.fixture(scope="module")
def allow_listed(globus_standin: GlobusStandIn) -> Iterator[tuple[SiteEndpoint, str]]:
    root = Path(os.environ["GLOBUS_COMPUTE_USER_DIR"])
    endpoint = start_site_endpoint(
        "allow-listed", "localhost", globus_standin, root=root, overrides=("allowed_functions=[]",)
    )
    try:
        result = CliRunner().invoke(
            cli, ["endpoint", "allow", "allow-listed", ALLOWED, "--config-dir", str(root)]
        )
        assert result.exit_code == 0, result.output
        entry = result.stdout.strip().splitlines()[-1]
        assert entry.endswith(f" {ALLOWED}")
        lifecycle.stop(root, endpoint.name)  # it sends its list when it registers
        lifecycle.start(root, endpoint.name)
        globus_standin.wait_for_endpoint(endpoint.endpoint_id, timeout=60)
        yield endpoint, entry
    finally:
        assert stop_site_endpoint(endpoint) == []


def site(endpoint: SiteEndpoint, entry: str) -> dict[str, dict]:
    return {
        "guarded": {
            "endpoint_id": endpoint.endpoint_id,
            "site": "localhost",
            "set": [f'allowed_functions=["{entry}"]'],
            "capacity": 2,
        }
    }


def submits(standin: GlobusStandIn) -> int:
    """Submit requests the stand-in has answered so far."""
    return sum(
        1
        for method, path, _ in list(standin.request_log)
        if method == "POST" and path.endswith("/submit")
    )


def test_the_allowed_function_runs_by_its_id_and_others_fail_fast(
    allow_listed: tuple[SiteEndpoint, str], standin: GlobusStandIn, tmp_path: Path
) -> None:
    endpoint, entry = allow_listed
    with Federation(site(endpoint, entry), run_dir=tmp_path, progress=False) as fed:
        assert list(fed.map(tasks.square, range(6), timeout=120)) == [x * x for x in range(6)]
        sent = submits(standin)
        assert sent > 0  # the allowed calls went through the submit route counted here
        refused = fed.submit(tasks.where, 1)
        with pytest.raises(TaskLost) as lost:
            refused.result(timeout=60)
        # failed at once, on the client: never sent to the endpoint to be refused there
        assert submits(standin) == sent
        (guarded,) = fed.summary()
    message = str(lost.value)
    assert "tests.federation.tasks:where" in message and endpoint.endpoint_id in message
    assert (guarded.succeeded, guarded.failed) == (6, 1)
    assert guarded.running == 0  # its last attempt counted failed, not also retried


def test_the_service_refuses_an_unlisted_function_id_naming_both(
    allow_listed: tuple[SiteEndpoint, str],
) -> None:
    endpoint, _ = allow_listed
    client = Client()
    function_id = client.register_function(tasks.where)
    with Executor(
        endpoint_id=endpoint.endpoint_id, client=client, task_group_id=uuid.uuid4()
    ) as ex:
        future = ex.submit_to_registered_function(function_id, args=(1,))
        with pytest.raises(globus_sdk.GlobusAPIError) as refused:
            future.result(timeout=30)
    assert refused.value.http_status == 403
    assert f"Function {function_id} not permitted on endpoint {endpoint.endpoint_id}" in str(
        refused.value
    )
