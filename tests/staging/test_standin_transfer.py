"""The stand-in's Transfer subset, spoken to by the real ``globus_sdk.TransferClient``."""

from __future__ import annotations

import os

import globus_sdk
import pytest
import requests

from chiltepin import auth
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.transport import STAND_IN_HEADER

from .conftest import Sites


@pytest.fixture
def tc(standin: GlobusStandIn) -> globus_sdk.TransferClient:
    return auth.transfer_client()


def test_client_env_points_transfer_client_at_the_stand_in(standin: GlobusStandIn) -> None:
    assert os.environ["GLOBUS_SDK_SERVICE_URL_TRANSFER"] == f"{standin.url}/"
    assert globus_sdk.TransferClient().base_url == f"{standin.url}/"
    r = requests.get(f"{standin.url}/v0.10/submission_id", timeout=10)
    assert r.headers[STAND_IN_HEADER] == "true"


def test_endpoint_search_get_and_ls(
    standin: GlobusStandIn, sites: Sites, tc: globus_sdk.TransferClient
) -> None:
    hits = list(tc.endpoint_search(sites.src_name))
    assert [h["id"] for h in hits] == [sites.src]
    assert hits[0]["entity_type"] == "GCSv5_guest_collection"
    doc = tc.get_endpoint(sites.dst)
    assert doc["display_name"] == sites.dst_name
    assert doc["entity_type"] == "GCSv5_mapped_collection"
    assert "stand-in" in doc["description"].lower()
    (sites.src_path("/d")).mkdir()
    sites.src_path("/d/f.txt").write_text("12345")
    listing = tc.operation_ls(sites.src, path="/~/d/")
    assert [(e["name"], e["type"], e["size"]) for e in listing] == [("f.txt", "file", 5)]
    with pytest.raises(globus_sdk.TransferAPIError) as info:
        tc.operation_ls(sites.src, path="/nope")
    assert info.value.http_status == 404
    with pytest.raises(globus_sdk.TransferAPIError) as info:
        tc.get_endpoint("00000000-0000-0000-0000-000000000000")
    assert info.value.code == "EndpointNotFound"


def test_consent_required_body_is_what_globus_sdk_parses(
    standin: GlobusStandIn, sites: Sites, tc: globus_sdk.TransferClient
) -> None:
    standin.require_consent(sites.dst)
    with pytest.raises(globus_sdk.TransferAPIError) as info:
        tc.operation_ls(sites.dst)
    err = info.value
    assert err.http_status == 403 and err.code == "ConsentRequired"
    scope = (
        "urn:globus:auth:scope:transfer.api.globus.org:all"
        f"[*https://auth.globus.org/scopes/{sites.dst}/data_access]"
    )
    assert err.info.consent_required and err.info.consent_required.required_scopes == [scope]
    assert err.raw_json["authorization_parameters"]["required_scopes"] == [scope]
    assert err.message == "Missing required data_access consent"


def test_task_lifecycle_events_successes_and_idempotent_submission(
    standin: GlobusStandIn, sites: Sites, tc: globus_sdk.TransferClient
) -> None:
    sites.src_path("/a").write_text("a")
    data = globus_sdk.TransferData(
        sites.src, sites.dst, sync_level="checksum", verify_checksum=True, skip_source_errors=True
    )
    data.add_item("/a", "/b")
    data.add_item("/missing", "/m")
    first = tc.submit_transfer(data)
    again = tc.submit_transfer(data)  # same submission id: the same task, not a second one
    assert again["task_id"] == first["task_id"] and again["code"] == "Duplicate"
    assert tc.task_wait(first["task_id"], timeout=20, polling_interval=1)
    task = tc.get_task(first["task_id"])
    assert task["status"] == "SUCCEEDED"
    assert task["files_transferred"] == 1 and task["subtasks_skipped_errors"] == 1
    ok = list(tc.paginated.task_successful_transfers(first["task_id"]).items())
    assert [(r["source_path"], r["destination_path"]) for r in ok] == [("/a", "/b")]
    skipped = list(tc.paginated.task_skipped_errors(first["task_id"]).items())
    assert [(r["source_path"], r["error_code"]) for r in skipped] == [
        ("/missing", "FILE_NOT_FOUND")
    ]
    codes = [e["code"] for e in tc.task_event_list(first["task_id"])]
    assert codes[0] == "SUCCEEDED" and "FILE_NOT_FOUND" in codes
    assert tc.cancel_task(first["task_id"])["code"] == "TaskComplete"
    assert not standin.unknown_routes


def test_without_skip_source_errors_a_missing_file_fails_the_task(
    sites: Sites, tc: globus_sdk.TransferClient
) -> None:
    data = globus_sdk.TransferData(sites.src, sites.dst)
    data.add_item("/missing", "/m")
    tid = tc.submit_transfer(data)["task_id"]
    tc.task_wait(tid, timeout=20, polling_interval=1)
    task = tc.get_task(tid)
    assert task["status"] == "FAILED" and task["fatal_error"]["code"] == "FILE_NOT_FOUND"


def test_throttled_task_can_be_cancelled(
    standin: GlobusStandIn, sites: Sites, tc: globus_sdk.TransferClient
) -> None:
    sites.src_path("/big").write_bytes(os.urandom(200_000))
    standin.slow_transfers(sites.src, bytes_per_s=50_000)
    data = globus_sdk.TransferData(sites.src, sites.dst)
    data.add_item("/big", "/big")
    tid = tc.submit_transfer(data)["task_id"]
    assert tc.get_task(tid)["status"] == "ACTIVE"
    assert tc.cancel_task(tid)["code"] == "Canceled"
    task = tc.get_task(tid)
    assert task["status"] == "FAILED" and task["fatal_error"]["code"] == "CANCELED"


def test_admin_routes_add_collections_and_faults(standin: GlobusStandIn) -> None:
    base = f"{standin.url}/_standin/transfer"
    r = requests.post(f"{base}/collections", json={"display_name": "admin-made"}, timeout=10)
    assert r.status_code == 200 and r.json()["stand_in"] is True
    cid = r.json()["id"]
    r = requests.post(f"{base}/faults/consent", json={"collection": cid}, timeout=10)
    assert r.status_code == 200 and standin.collection(cid).requires_consent
    listed = requests.get(f"{base}/collections", timeout=10).json()["collections"]
    assert cid in {c["id"] for c in listed}
    r = requests.post(f"{base}/faults/deny", json={"collection": "nope", "path": "/"}, timeout=10)
    assert r.status_code == 404
