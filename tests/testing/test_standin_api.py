"""The stand-in against the real SDK ``Client`` (no endpoint needed), and its fault injection."""

from __future__ import annotations

import time
import uuid

import pika
import pytest
import requests
from globus_compute_common import messagepack
from globus_compute_common.messagepack.message_types import EPStatusReport
from globus_sdk import GlobusAPIError
from globus_sdk.transport import RetryConfig

from chiltepin.system.waiting import wait_until
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.transport import STAND_IN_HEADER


def double(x: int) -> int:
    return 2 * x


@pytest.fixture
def client(standin: GlobusStandIn):
    from globus_compute_sdk import Client

    return Client()  # GLOBUS_SDK_ENVIRONMENT=local + client credentials from client_env()


def test_client_version_and_function_registration(standin: GlobusStandIn, client) -> None:
    client.version_check()
    fid = client.register_function(double)
    doc = client.get_function(fid)
    assert doc["function_uuid"] == fid
    assert doc["function_name"] == "double"
    # the Auth token endpoint was used (client credentials), not a browser login
    assert ("POST", "/v2/oauth2/token", 200) in standin.request_log
    assert not standin.unknown_routes


def test_responses_are_labelled_and_unknown_routes_are_loud(standin: GlobusStandIn) -> None:
    r = requests.get(f"{standin.url}/v2/version", params={"service": "all"}, timeout=10)
    assert r.headers[STAND_IN_HEADER] == "true"
    assert r.json()["stand_in"] is True
    r = requests.get(f"{standin.url}/v2/no_such_thing", timeout=10)
    assert r.status_code == 404
    assert r.json()["code"] == "UNKNOWN_ROUTE"
    assert "GET /v2/no_such_thing" in r.json()["message"]
    assert "GET /v2/no_such_thing" in standin.unknown_routes
    standin.unknown_routes.clear()


def test_injected_429_surfaces_as_globus_api_error(standin: GlobusStandIn, client) -> None:
    # One more 429 than the SDK's transport retries (each after Retry-After: 1 s).
    attempts = RetryConfig().max_retries + 1
    before = len(standin.faults.injected)
    standin.fail_next("version", attempts, status=429, retry_after=1)
    with pytest.raises(GlobusAPIError) as info:
        client.version_check()
    fired = standin.faults.injected[before:]
    assert [(f["route"], f["status"]) for f in fired] == [("version", 429)] * attempts
    err = info.value
    assert err.http_status == 429
    assert err.code == "TOO_MANY_REQUESTS"
    assert err.request_id
    assert "Rate limit" in (err.message or "")


def test_sdk_transport_retries_through_transient_429s(standin: GlobusStandIn, client) -> None:
    standin.fail_next("register_function", 1, status=429, retry_after=1)
    fid = client.register_function(double)  # the SDK waits Retry-After and retries
    assert uuid.UUID(fid)
    assert [f["status"] for f in standin.faults.injected if f["route"] == "register_function"]


def test_service_rate_limit_answers_429_with_retry_after(standin: GlobusStandIn) -> None:
    standin.limit_rate("version", requests=3, window=2.0)
    url = f"{standin.url}/v2/version"
    first = time.monotonic()  # before the first counted request
    statuses = [requests.get(url, timeout=10).status_code for _ in range(3)]
    refused = requests.get(url, timeout=10)
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["code"] == "TOO_MANY_REQUESTS"
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    # refused requests do not count, so polling does not hold the window shut
    wait_until(
        lambda: requests.get(url, timeout=10).status_code == 200,
        timeout=30,
        interval=0.2,
        what="the rate-limit window to move on",
    )
    assert time.monotonic() - first >= 2.0  # and not before the window had passed
    with pytest.raises(ValueError, match="unknown route 'nope'"):
        standin.limit_rate("nope")


def test_404_unknown_endpoint_and_injected_404(standin: GlobusStandIn, client) -> None:
    fid = client.register_function(double)
    batch = client.create_batch()
    batch.add(fid, (1,))
    missing = str(uuid.uuid4())
    with pytest.raises(GlobusAPIError) as info:
        client.batch_run(missing, batch)
    assert info.value.http_status == 404
    assert info.value.code == "ENDPOINT_NOT_FOUND"
    assert missing in (info.value.message or "")

    # injected over HTTP admin route, as a non-Python test harness would
    r = requests.post(
        f"{standin.url}/_standin/faults/fail_next",
        json={"route": "get_function", "count": 1, "status": 404, "code": "FUNCTION_NOT_FOUND"},
        timeout=10,
    )
    assert r.ok
    with pytest.raises(GlobusAPIError) as info:
        client.get_function(fid)
    assert (info.value.http_status, info.value.code) == (404, "FUNCTION_NOT_FOUND")
    assert client.get_function(fid)["function_uuid"] == fid  # only the next one failed


def test_pause_stops_answering(standin: GlobusStandIn) -> None:
    standin.pause(1.5)
    t0 = time.monotonic()
    r = requests.get(f"{standin.url}/v2/version", timeout=10)
    assert r.ok
    assert time.monotonic() - t0 >= 1.3
    # admin routes stay reachable while paused, so a harness can resume
    standin.pause(30)
    assert requests.post(f"{standin.url}/_standin/faults/resume", timeout=5).ok
    assert requests.get(f"{standin.url}/v2/version", timeout=5).ok


def _register_plain_endpoint(client, name: str) -> dict:
    return client.register_endpoint(name, None, metadata={"endpoint_version": "test"})


def _heartbeat(url: str, queue_info: dict, endpoint_id: str, period: float) -> None:
    kw = queue_info["queue_publish_kwargs"]
    report = EPStatusReport(
        endpoint_id=uuid.UUID(endpoint_id),
        global_state={"heartbeat_period": period},
        task_statuses={},
    )
    with pika.BlockingConnection(pika.URLParameters(url)) as conn:
        conn.channel().basic_publish(kw["exchange"], kw["routing_key"], messagepack.pack(report))


def test_liveness_from_heartbeats_and_forced_offline(standin: GlobusStandIn, client) -> None:
    reg = _register_plain_endpoint(client, "fake-heartbeater")
    eid = reg["endpoint_id"]
    hb = reg["heartbeat_queue_info"]
    assert client.get_endpoint_status(eid)["status"] == "offline"  # never heard from

    standin.compute.settings.offline_after_s = 1.0
    try:
        last_heartbeat = time.monotonic()
        _heartbeat(hb["connection_url"], hb, eid, period=5)
        standin.wait_for_endpoint(eid, timeout=10)
        status = client.get_endpoint_status(eid)
        assert status["status"] == "online"
        assert status["details"]["heartbeat_period"] == 5

        standin.set_offline(eid)  # fault injection: looks offline although heartbeating
        assert client.get_endpoint_status(eid)["status"] == "offline"
        standin.set_offline(eid, False)
        assert client.get_endpoint_status(eid)["status"] == "online"

        wait_until(
            lambda: client.get_endpoint_status(eid)["status"] == "offline",
            timeout=30,
            interval=0.2,
            what="the endpoint to go offline after its missed-heartbeat window",
        )
        assert time.monotonic() - last_heartbeat >= 1.0  # not before the window passed

        _heartbeat(hb["connection_url"], hb, eid, period=0)  # "shutting down now"
        assert client.get_endpoint_status(eid)["status"] == "offline"
    finally:
        standin.compute.settings.offline_after_s = None


def test_drop_queues(standin: GlobusStandIn, client) -> None:
    reg = _register_plain_endpoint(client, "fake-dropped")
    eid = reg["endpoint_id"]
    assert standin.bridge is not None
    assert standin.bridge.queue_depth(f"{eid}.tasks") == 0
    dropped = standin.drop_queues(eid, ("tasks", "results"))
    assert dropped == [f"{eid}.tasks", f"{eid}.results"]
    assert standin.bridge.queue_depth(f"{eid}.tasks") is None
