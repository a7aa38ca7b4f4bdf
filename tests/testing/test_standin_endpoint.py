"""The real SDK Executor and a real template-capable ``globus-compute-endpoint``, via the stand-in.

Measurements are printed (``pytest -s``) and attached with ``record_property``.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid

import pytest
from globus_compute_sdk import Executor
from globus_compute_sdk.errors import TaskExecutionFailed
from globus_sdk import GlobusAPIError

from chiltepin.testing import GlobusStandIn
from chiltepin.testing.endpoint import LocalEndpoint


def square(x: int) -> int:
    return x * x


def where_am_i() -> str:
    import os

    return os.environ.get("GLOBUS_COMPUTE_ENDPOINT_NAME", "?")


def boom(msg: str) -> None:
    raise ValueError(f"boom: {msg}")


def noop() -> None:
    return None


def _report(record_property, name: str, value: float, unit: str) -> None:
    record_property(name, round(value, 4))
    print(f"\n[stand-in measurement] {name} = {value:.4f} {unit}")


def test_two_user_endpoint_configs_give_two_user_endpoints(
    standin: GlobusStandIn, standin_endpoint: LocalEndpoint
) -> None:
    eid = standin_endpoint.endpoint_id
    assert eid
    with (
        Executor(endpoint_id=eid, user_endpoint_config={"label": "a"}) as ex_a,
        Executor(endpoint_id=eid, user_endpoint_config={"label": "b", "workers": 1}) as ex_b,
    ):
        futs_a = [ex_a.submit(square, i) for i in range(5)]
        futs_b = [ex_b.submit(square, i) for i in range(5)]
        name_a = ex_a.submit(where_am_i)
        name_b = ex_b.submit(where_am_i)
        assert [f.result(timeout=120) for f in futs_a] == [i * i for i in range(5)]
        assert [f.result(timeout=120) for f in futs_b] == [i * i for i in range(5)]
        names = {name_a.result(timeout=60), name_b.result(timeout=60)}
    ueps = standin.user_endpoints(eid)
    configs = sorted((u.user_opts or {}).get("label", "") for u in ueps)
    assert configs[:2] == ["a", "b"] or {"a", "b"} <= set(configs)
    assert len(names) == 2 and all(n.startswith(f"uep.{eid}.") for n in names)
    # the same options again map to the same user endpoint (canonical JSON, key order free)
    with Executor(endpoint_id=eid, user_endpoint_config={"workers": 1, "label": "b"}) as ex:
        assert ex.submit(where_am_i).result(timeout=60) in names
    assert len(standin.user_endpoints(eid)) == len(ueps)


def test_remote_exception_comes_back(standin: GlobusStandIn, standin_endpoint: LocalEndpoint):
    with Executor(
        endpoint_id=standin_endpoint.endpoint_id, user_endpoint_config={"label": "a"}
    ) as ex:
        fut = ex.submit(boom, "expected")
        exc = fut.exception(timeout=120)
    assert isinstance(exc, TaskExecutionFailed)
    assert "ValueError" in str(exc) and "boom: expected" in str(exc)
    assert standin.task(fut.task_id).status == "failed"


def test_options_rejected_by_endpoint_schema_fail_the_futures(
    standin: GlobusStandIn, standin_endpoint: LocalEndpoint
) -> None:
    eid = standin_endpoint.endpoint_id
    with Executor(endpoint_id=eid, user_endpoint_config={"partition": "nope"}) as ex:
        futs = [ex.submit(square, 3), ex.submit(square, 4)]
        excs = [f.exception(timeout=120) for f in futs]
    for exc in excs:
        assert isinstance(exc, TaskExecutionFailed)
        text = str(exc)
        # the endpoint's own jsonschema message, relayed by the service
        assert "Additional properties are not allowed" in text, text
        assert "'partition' was unexpected" in text, text
    uep = next(u for u in standin.user_endpoints(eid) if u.user_opts == {"partition": "nope"})
    assert uep.start_error and "ValidationError" in uep.start_error


def test_service_side_option_validation_gives_400(
    standin: GlobusStandIn, standin_endpoint: LocalEndpoint
) -> None:
    standin.compute.settings.validate_user_options = True
    try:
        with Executor(
            endpoint_id=standin_endpoint.endpoint_id, user_endpoint_config={"workers": 99}
        ) as ex:
            exc = ex.submit(square, 2).exception(timeout=60)
    finally:
        standin.compute.settings.validate_user_options = False
    assert isinstance(exc, GlobusAPIError)
    assert (exc.http_status, exc.code) == (400, "INVALID_USER_ENDPOINT_CONFIG")
    assert "workers" in (exc.message or "")


def test_reload_tasks_reattaches(standin: GlobusStandIn, standin_endpoint: LocalEndpoint):
    eid = standin_endpoint.endpoint_id
    # a fresh group: the SDK otherwise reuses one task group for every Executor in a process
    tg = uuid.uuid4()
    with Executor(endpoint_id=eid, user_endpoint_config={"label": "a"}, task_group_id=tg) as ex:
        futs = [ex.submit(square, i) for i in range(4)]
        assert [f.result(timeout=120) for f in futs] == [0, 1, 4, 9]
        assert ex.task_group_id == tg
    with Executor(endpoint_id=eid, task_group_id=tg) as ex2:
        reloaded = list(ex2.reload_tasks())
        assert sorted(f.result(timeout=30) for f in reloaded) == [0, 1, 4, 9]


def _roundtrips(ex: Executor, n: int) -> list[float]:
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        ex.submit(noop).result(timeout=60)
        lat.append(time.perf_counter() - t0)
    return lat


def test_latency_and_throughput(
    standin: GlobusStandIn, standin_endpoint: LocalEndpoint, record_property
) -> None:
    from globus_compute_sdk.sdk.executor import _RESULT_WATCHERS

    eid = standin_endpoint.endpoint_id
    with Executor(
        endpoint_id=eid, user_endpoint_config={"label": "a"}, task_group_id=uuid.uuid4()
    ) as ex:
        # The SDK's client-side limiter (at most 8 sends per >=1 s window, default 4 per
        # 16 s) would dominate sequential one-task submits; lift it to time the path.
        ex.api_burst_limit = 1_000_000
        ex.submit(noop).result(timeout=120)  # user endpoint warm

        # Floors that are not the stand-in's: the SDK result watcher matches results every
        # 0.5 s (lowered here to 10 ms) and the endpoint's ResultPublisher sends queued
        # results every 0.5 s (its poll_period_s; not configurable), so sequential
        # round trips settle near 0.5 s on the real service path too.
        _RESULT_WATCHERS[ex.task_group_id].poll_period_s = 0.01
        _roundtrips(ex, 3)
        lat = _roundtrips(ex, 100)
        q = statistics.quantiles(lat, n=100)
        _report(record_property, "noop_roundtrip_p50_s", statistics.median(lat), "s")
        _report(record_property, "noop_roundtrip_p95_s", q[94], "s")
        submit_s = [
            t for m, p, t in standin.request_timings[-100:] if m == "POST" and p.endswith("/submit")
        ]
        if submit_s:
            p50 = statistics.median(submit_s)
            _report(record_property, "standin_submit_request_p50_s", p50, "s")

        n = 1000
        t0 = time.perf_counter()
        futs = [ex.submit(noop) for _ in range(n)]
        for f in futs:
            f.result(timeout=180)
        rate = n / (time.perf_counter() - t0)
        _report(record_property, "burst_1000_tasks_per_s", rate, "tasks/s")
    assert statistics.median(lat) < 1.5
    assert rate > 20


def test_endpoint_lifecycle_first_result_and_clean_stop(
    standin: GlobusStandIn, tmp_path, record_property
) -> None:
    """Own endpoint: start -> first result timing -> stop -> no process left, status offline."""
    from globus_compute_sdk import Client

    assert standin.user_dir is not None and standin.home is not None
    ep = LocalEndpoint("lifecycle-ep", standin.user_dir, standin.home, standin.client_env())
    ep.configure()
    t0 = time.perf_counter()
    ep.start(log_path=tmp_path / "start.log")
    try:
        eid = ep.wait_registered()
        with Executor(endpoint_id=eid, user_endpoint_config={"label": "life"}) as ex:
            assert ex.submit(square, 7).result(timeout=120) == 49
            first = time.perf_counter() - t0
            _report(record_property, "endpoint_start_to_first_result_s", first, "s")
        pids = ep.record_processes()
        assert pids, "expected a user endpoint and engine processes under the endpoint"
        assert Client().get_endpoint_status(eid)["status"] == "online"
    finally:
        done = ep.stop()
    leftovers = ep.leftovers()
    if leftovers:
        ep.kill()
    assert not leftovers, f"processes left after stop: {leftovers}"
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert ep.process is not None and ep.process.returncode is not None
    assert not os.path.exists(ep.ep_dir / "daemon.pid")
    assert Client().get_endpoint_status(eid)["status"] == "offline"  # final heartbeat said so


@pytest.mark.parametrize("opts", [{"label": "has space"}])
def test_pattern_violations_are_rejected_by_endpoint(
    standin: GlobusStandIn, standin_endpoint: LocalEndpoint, opts: dict
) -> None:
    with Executor(endpoint_id=standin_endpoint.endpoint_id, user_endpoint_config=opts) as ex:
        exc = ex.submit(square, 1).exception(timeout=120)
    assert isinstance(exc, TaskExecutionFailed)
    assert "does not match" in str(exc)
