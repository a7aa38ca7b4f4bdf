"""The stand-in with the real SDK ``Executor`` and a real ``globus-compute-endpoint``.

The endpoint is the ``standin_endpoint`` fixture: one configured from the shipped
``localhost`` site and started the way users start it (``chiltepin.testing.site_endpoint``).
Only behaviour of the stand-in itself is tested here; what users see through that product
path (two option sets give two user endpoints, options the endpoint's schema rejects fail
the futures, lifecycle and a clean stop, latency) is in ``tests/e2e``.
"""

from __future__ import annotations

import uuid

from globus_compute_sdk import Executor
from globus_compute_sdk.errors import TaskExecutionFailed
from globus_sdk import GlobusAPIError

from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint

# one option set for every test, so they share one user endpoint (each set starts its own)
OPTS = {"max_workers_per_node": 2, "max_blocks": 1}


def square(x: int) -> int:
    return x * x


def where_am_i() -> str:
    import os

    return os.environ.get("GLOBUS_COMPUTE_ENDPOINT_NAME", "?")


def boom(msg: str) -> None:
    raise ValueError(f"boom: {msg}")


def test_same_options_in_any_key_order_reuse_one_user_endpoint(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint
) -> None:
    eid = standin_endpoint.endpoint_id
    names = []
    for opts in (OPTS, dict(reversed(OPTS.items()))):
        with Executor(endpoint_id=eid, user_endpoint_config=opts) as ex:
            names.append(ex.submit(where_am_i).result(timeout=120))
    assert names[0] == names[1] and names[0].startswith(f"uep.{eid}."), names
    assert [u.user_opts for u in standin.user_endpoints(eid)].count(OPTS) == 1


def test_remote_exception_comes_back(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint
) -> None:
    with Executor(endpoint_id=standin_endpoint.endpoint_id, user_endpoint_config=OPTS) as ex:
        fut = ex.submit(boom, "expected")
        exc = fut.exception(timeout=120)
    assert isinstance(exc, TaskExecutionFailed)
    assert "ValueError" in str(exc) and "boom: expected" in str(exc)
    assert standin.task(fut.task_id).status == "failed"


def test_service_side_option_validation_gives_400(
    standin: GlobusStandIn, standin_endpoint: SiteEndpoint
) -> None:
    """With validation on, the schema the endpoint registered (the localhost site's: no
    scheduler options, site bounds) is enforced at submit, before any user endpoint."""
    eid = standin_endpoint.endpoint_id
    rejected = {
        "partition": {"partition": "x"},
        "max_workers_per_node": {"max_workers_per_node": 99999},
    }
    standin.compute.settings.validate_user_options = True
    try:
        errors = {}
        for key, opts in rejected.items():
            with Executor(endpoint_id=eid, user_endpoint_config=opts) as ex:
                errors[key] = ex.submit(square, 2).exception(timeout=60)
        with Executor(endpoint_id=eid, user_endpoint_config=OPTS) as ex:
            accepted = ex.submit(square, 2).result(timeout=120)
    finally:
        standin.compute.settings.validate_user_options = False
    for key, exc in errors.items():
        assert isinstance(exc, GlobusAPIError), (key, exc)
        assert (exc.http_status, exc.code) == (400, "INVALID_USER_ENDPOINT_CONFIG")
        assert key in (exc.message or ""), exc.message
    assert accepted == 4
    started = [u.user_opts for u in standin.user_endpoints(eid)]
    assert not [opts for opts in rejected.values() if opts in started]


def test_reload_tasks_reattaches(standin: GlobusStandIn, standin_endpoint: SiteEndpoint) -> None:
    eid = standin_endpoint.endpoint_id
    # a fresh group: the SDK otherwise reuses one task group for every Executor in a process
    tg = uuid.uuid4()
    with Executor(endpoint_id=eid, user_endpoint_config=OPTS, task_group_id=tg) as ex:
        futs = [ex.submit(square, i) for i in range(4)]
        assert [f.result(timeout=120) for f in futs] == [0, 1, 4, 9]
        assert ex.task_group_id == tg
    with Executor(endpoint_id=eid, task_group_id=tg) as ex2:
        reloaded = list(ex2.reload_tasks())
        assert sorted(f.result(timeout=30) for f in reloaded) == [0, 1, 4, 9]
