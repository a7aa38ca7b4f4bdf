"""The stand-in answers like Globus: Globus's own example responses as the yardstick.

``globus_sdk.testing.data`` ships example responses of the real Compute, Auth and Transfer
services (maintained by Globus). For every example whose route the stand-in serves, the
stand-in is called through the real SDK client for that service, and every key of the
example must be in the answer with the same JSON type, recursively (values, and keys the
example lacks, are not compared; see ``chiltepin.testing.fixtures.Shape``). Examples of
routes the stand-in does not serve are listed below with the reason, so a new example in a
globus-sdk upgrade fails here until someone decides.

The Compute examples need state behind them (a finished task, a user endpoint's status),
so the module runs one task through the real ``standin_endpoint``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import globus_sdk
import pytest
from globus_compute_sdk import Executor

from chiltepin.testing import GlobusStandIn
from chiltepin.testing.auth_api import STANDIN_USER_ID
from chiltepin.testing.fixtures import Example, Shape, examples, route_of
from chiltepin.testing.routing import Request
from chiltepin.testing.site_endpoint import SiteEndpoint

OPTS = {"max_workers_per_node": 2, "max_blocks": 1}  # shared with test_standin_endpoint

NOT_USED = "not used by chiltepin, globus-compute-sdk or globus-compute-endpoint"
UNSERVED_MODULES: dict[str, tuple[str, ...]] = {
    f"Auth client/project/policy/scope administration: {NOT_USED}": (
        "auth.create_child_client",
        "auth.create_client",
        "auth.create_client_credential",
        "auth.create_native_app_instance",
        "auth.create_policy",
        "auth.create_project",
        "auth.create_scope",
        "auth.delete_client",
        "auth.delete_client_credential",
        "auth.delete_policy",
        "auth.delete_project",
        "auth.delete_scope",
        "auth.get_client",
        "auth.get_client_credentials",
        "auth.get_clients",
        "auth.get_consents",
        "auth.get_identity_providers",
        "auth.get_policies",
        "auth.get_policy",
        "auth.get_project",
        "auth.get_projects",
        "auth.get_scope",
        "auth.get_scopes",
        "auth.update_client",
        "auth.update_policy",
        "auth.update_project",
        "auth.update_scope",
    ),
    "legacy v2 submit: globus-compute-sdk 4.19 submits with POST /v3/endpoints/{id}/submit": (
        "compute.v2.submit",
    ),
    f"Transfer tunnels, stream access points and bookmarks: {NOT_USED}": (
        "transfer.create_tunnel",
        "transfer.delete_tunnel",
        "transfer.get_stream_access_point",
        "transfer.get_tunnel",
        "transfer.get_tunnel_events",
        "transfer.list_tunnels",
        "transfer.update_tunnel",
        "transfer.v2.create_bookmark",
        "transfer.v2.create_tunnel",
        "transfer.v2.delete_bookmark",
        "transfer.v2.delete_tunnel",
        "transfer.v2.get_bookmark",
        "transfer.v2.get_stream_access_point",
        "transfer.v2.get_tunnel",
        "transfer.v2.get_tunnel_events",
        "transfer.v2.list_bookmarks",
        "transfer.v2.list_stream_access_points",
        "transfer.v2.list_tunnels",
        "transfer.v2.update_bookmark",
        "transfer.v2.update_tunnel",
    ),
    f"Transfer endpoint administration and rename: {NOT_USED}": (
        "transfer.endpoint_manager_task_list",
        "transfer.endpoint_manager_task_successful_transfers",
        "transfer.operation_rename",
        "transfer.set_subscription_admin_verified",
        "transfer.set_subscription_id",
        "transfer.update_endpoint",
    ),
}
UNSERVED_CASES: dict[str, str] = {
    # served routes, but cases of an interactive login the stand-in does not offer: tests and
    # endpoints authenticate by client credentials (see chiltepin.testing.environment)
    "auth.oauth2_exchange_code_for_tokens:default": "no authorization-code login",
    "auth.oauth2_exchange_code_for_tokens:invalid_grant": "no authorization-code login",
    "auth.oauth2_exchange_code_for_tokens:openid": "no authorization-code login",
    "auth.oauth2_get_dependent_tokens:groups": "no dependent-token grant (no Groups service)",
    "auth.oauth2_get_dependent_tokens:groups_with_refresh_token": "no dependent-token grant",
    # an id_token is a JWT Auth signs; globus_sdk decodes any it gets, fetching Auth's OpenID
    # configuration and keys (globus-compute-endpoint does so at start), which the stand-in
    # cannot sign for: it leaves id_token out and callers use userinfo instead
    "auth.oauth2_client_credentials_tokens:openid": "no id_token (no signing keys)",
}


def double(x: int) -> int:
    return 2 * x


@dataclass
class World:
    """What the examples need to exist on the stand-in, and the SDK clients to ask it."""

    standin: GlobusStandIn
    compute: Any  # globus_compute_sdk.Client
    auth: globus_sdk.ConfidentialAppAuthClient
    transfer: globus_sdk.TransferClient
    endpoint_id: str
    function_id: str
    task_id: str
    task_group_id: str
    collection: str

    @property
    def v2(self) -> globus_sdk.ComputeClientV2:
        return self.compute._compute_web_client.v2

    @property
    def v3(self) -> globus_sdk.ComputeClientV3:
        return self.compute._compute_web_client.v3

    def registration(self, name: str) -> dict[str, Any]:
        return {"endpoint_name": name, "display_name": name, "version": "4.19.0"}

    def spare_endpoint(self) -> str:
        return self.v3.register_endpoint(self.registration(f"spare-{uuid.uuid4()}"))["endpoint_id"]

    def code(self) -> dict[str, str]:
        """A function registration body, with the code the SDK registered before."""
        return {
            "function_name": "again",
            "function_code": self.v2.get_function(self.function_id)["function_code"],
        }

    def user_auth(self) -> globus_sdk.AuthClient:
        """An AuthClient with an Auth token, as an app that asked for ``openid`` has."""
        token = self.auth.oauth2_client_credentials_tokens(requested_scopes="openid")
        return globus_sdk.AuthClient(
            authorizer=globus_sdk.AccessTokenAuthorizer(token["access_token"])
        )

    def unauthenticated_error(self, call: Callable[[globus_sdk.AuthClient], Any]) -> Any:
        with pytest.raises(globus_sdk.AuthAPIError) as info:
            call(globus_sdk.AuthClient())
        return info.value.raw_json


@pytest.fixture(scope="module")
def world(globus_standin: GlobusStandIn, standin_endpoint: SiteEndpoint) -> World:
    standin = globus_standin
    compute = standin.sdk_client()
    with Executor(endpoint_id=standin_endpoint.endpoint_id, user_endpoint_config=OPTS) as ex:
        fut = ex.submit(double, 21)
        assert fut.result(timeout=120) == 42
    task_id = str(fut.task_id)
    auth = globus_sdk.ConfidentialAppAuthClient(standin.client_id, standin.client_secret)
    tokens = auth.oauth2_client_credentials_tokens(
        requested_scopes=globus_sdk.TransferClient.scopes.all
    )
    transfer = globus_sdk.TransferClient(
        authorizer=globus_sdk.AccessTokenAuthorizer(
            tokens.by_resource_server["transfer.api.globus.org"]["access_token"]
        )
    )
    collection = standin.add_collection("conformance")
    standin.collection_path(collection, "/src").mkdir(parents=True, exist_ok=True)
    (standin.collection_path(collection, "/src") / "a.txt").write_text("a\n")
    return World(
        standin,
        compute,
        auth,
        transfer,
        standin_endpoint.endpoint_id,
        compute.register_function(double),
        task_id,
        str(standin.task(task_id).task_group_id),
        collection,
    )


def _transfer_error(call: Callable[[], Any]) -> Any:
    with pytest.raises(globus_sdk.TransferAPIError) as info:
        call()
    return info.value.raw_json


def _transfer_data(w: World) -> globus_sdk.TransferData:
    data = globus_sdk.TransferData(w.collection, w.collection, label="conformance")
    data.add_item("/src/a.txt", f"/dst-{uuid.uuid4()}/a.txt")
    return data


def _forbidden_userinfo(w: World) -> Any:
    """A Transfer token is no Auth token: Auth refuses it for userinfo (403)."""
    tokens = w.auth.oauth2_client_credentials_tokens(
        requested_scopes=globus_sdk.TransferClient.scopes.all
    )
    token = tokens.by_resource_server["transfer.api.globus.org"]["access_token"]
    client = globus_sdk.AuthClient(authorizer=globus_sdk.AccessTokenAuthorizer(token))
    with pytest.raises(globus_sdk.AuthAPIError) as info:
        client.userinfo()
    return info.value.raw_json


def _introspect(w: World) -> Any:
    token = w.auth.oauth2_client_credentials_tokens(requested_scopes="openid")
    return w.auth.oauth2_token_introspect(token["access_token"]).data


def _revoke(w: World) -> Any:
    token = w.auth.oauth2_client_credentials_tokens(requested_scopes="openid")
    return w.auth.oauth2_revoke_token(token["access_token"]).data


def _cancel(w: World) -> Any:
    task_id = w.transfer.submit_transfer(_transfer_data(w))["task_id"]
    return w.transfer.cancel_task(task_id).data


def _delete(w: World) -> Any:
    data = globus_sdk.DeleteData(w.collection, label="conformance")
    data.add_item(f"/gone-{uuid.uuid4()}")
    return w.transfer.submit_delete(data).data


def _update_endpoint(w: World) -> Any:
    ep = w.spare_endpoint()
    return w.v3.update_endpoint(ep, w.registration(f"renamed-{ep}")).data


DRIVERS: dict[str, Callable[[World], Any]] = {
    # Compute, through globus_sdk's ComputeClientV2/V3 (what globus_compute_sdk.Client uses)
    "compute.v2.get_version:default": lambda w: w.v2.get_version().data,
    "compute.v2.get_version:all": lambda w: w.v2.get_version(service="all").data,
    "compute.v2.get_result_amqp_url:default": lambda w: w.v2.get_result_amqp_url().data,
    "compute.v2.get_endpoints:default": lambda w: w.v2.get_endpoints().data,
    "compute.v2.get_endpoints:any": lambda w: w.v2.get_endpoints(role="any").data,
    "compute.v2.get_endpoint:default": lambda w: w.v2.get_endpoint(w.endpoint_id).data,
    "compute.v2.get_endpoint_status:default": (
        lambda w: w.v2.get_endpoint_status(w.endpoint_id).data
    ),
    "compute.v2.delete_endpoint:default": lambda w: w.v2.delete_endpoint(w.spare_endpoint()).data,
    "compute.v2.lock_endpoint:default": lambda w: w.v2.lock_endpoint(w.endpoint_id).data,
    "compute.v3.lock_endpoint:default": lambda w: w.v3.lock_endpoint(w.endpoint_id).data,
    "compute.v3.get_endpoint_allowlist:default": (
        lambda w: w.v3.get_endpoint_allowlist(w.endpoint_id).data
    ),
    "compute.v2.register_endpoint:default": (
        lambda w: w.v2.register_endpoint(w.registration(f"v2-{uuid.uuid4()}")).data
    ),
    "compute.v3.register_endpoint:default": (
        lambda w: w.v3.register_endpoint(w.registration(f"v3-{uuid.uuid4()}")).data
    ),
    "compute.v3.update_endpoint:default": _update_endpoint,
    "compute.v2.register_function:default": lambda w: w.v2.register_function(w.code()).data,
    "compute.v3.register_function:default": lambda w: w.v3.register_function(w.code()).data,
    "compute.v2.get_function:default": lambda w: w.v2.get_function(w.function_id).data,
    "compute.v2.delete_function:default": (
        lambda w: w.v2.delete_function(w.compute.register_function(double)).data
    ),
    "compute.v3.submit:default": (
        lambda w: (
            w.v3.submit(
                w.endpoint_id,
                {
                    "tasks": {w.function_id: [w.compute.fx_serializer.pack_buffers([])]},
                    "user_endpoint_config": OPTS,
                    "create_queue": False,
                },
            ).data
        )
    ),
    "compute.v2.get_task:default": lambda w: w.v2.get_task(w.task_id).data,
    "compute.v2.get_task_batch:default": lambda w: w.v2.get_task_batch([w.task_id]).data,
    "compute.v2.get_task_group:default": lambda w: w.v2.get_task_group(w.task_group_id).data,
    # Auth, through globus_sdk's AuthClient / ConfidentialAppAuthClient
    **{
        f"auth.get_identities:{case}": (
            lambda w: w.user_auth().get_identities(ids=[STANDIN_USER_ID]).data
        )
        for case in ("default", "empty", "multiple", "globusid", "sirosen")
    },
    "auth.get_identities:unauthorized": (
        lambda w: w.unauthenticated_error(lambda c: c.get_identities(ids=[STANDIN_USER_ID]))
    ),
    "auth.userinfo:unauthorized": lambda w: w.unauthenticated_error(lambda c: c.userinfo()),
    "auth.userinfo:forbidden": _forbidden_userinfo,
    "auth.oauth2_client_credentials_tokens:default": (
        lambda w: (
            w.auth.oauth2_client_credentials_tokens(
                requested_scopes=globus_sdk.TransferClient.scopes.all
            ).data
        )
    ),
    "auth.oauth2_token_introspect:default": _introspect,
    "auth.oauth2_revoke_token:default": _revoke,
    # Transfer, through globus_sdk's TransferClient
    "transfer.get_endpoint:default": lambda w: w.transfer.get_endpoint(w.collection).data,
    "transfer.get_submission_id:default": lambda w: w.transfer.get_submission_id().data,
    "transfer.operation_mkdir:default": (
        lambda w: w.transfer.operation_mkdir(w.collection, f"/made-{uuid.uuid4()}").data
    ),
    "transfer.operation_stat:default": (
        lambda w: w.transfer.operation_stat(w.collection, "/src/a.txt").data
    ),
    "transfer.operation_stat:not_found": (
        lambda w: _transfer_error(lambda: w.transfer.operation_stat(w.collection, "/nothing"))
    ),
    "transfer.operation_stat:permission_denied": (
        lambda w: (
            w.standin.deny_path(w.collection, "/denied"),
            _transfer_error(lambda: w.transfer.operation_stat(w.collection, "/denied")),
        )[1]
    ),
    "transfer.submit_transfer:default": (
        lambda w: w.transfer.submit_transfer(_transfer_data(w)).data
    ),
    "transfer.submit_transfer:failure": (
        lambda w: _transfer_error(
            lambda: w.transfer.submit_transfer(globus_sdk.TransferData(w.collection, w.collection))
        )
    ),
    "transfer.submit_delete:default": _delete,
    "transfer.task_list:default": lambda w: w.transfer.task_list(limit=5).data,
    "transfer.cancel_task:default": _cancel,
}


def _served(routes: list[Any]) -> tuple[list[Example], set[str]]:
    served, unserved = [], set()
    for ex in examples():
        if route_of(ex, routes) is None:
            unserved.add(ex.name.split(":", 1)[0])
        elif ex.name not in UNSERVED_CASES:
            served.append(ex)
    return served, unserved


ROUTES = GlobusStandIn(compute=False, banner=False).http.routes
SERVED, UNSERVED = _served(ROUTES)


def test_every_example_is_checked_or_listed_with_a_reason() -> None:
    listed = {m for modules in UNSERVED_MODULES.values() for m in modules}
    assert listed == UNSERVED
    assert {ex.name for ex in SERVED} == set(DRIVERS)
    names = {ex.name for ex in examples()}
    assert set(UNSERVED_CASES) <= names


@pytest.mark.parametrize("example", SERVED, ids=lambda ex: ex.name)
def test_stand_in_answers_with_globus_example_shape(world: World, example: Example) -> None:
    answer = DRIVERS[example.name](world)
    assert Shape.of(example.body).differences(answer) == []


def test_strict_mode_answers_with_exactly_the_example_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHILTEPIN_STANDIN_STRICT", "1")
    standin = GlobusStandIn(compute=False, banner=False)  # strict from the environment
    req = Request("GET", "/v2/version", {"service": ["all"]}, {}, b"")
    resp, route = standin.http.answer(req)
    example = next(ex for ex in examples() if ex.name == "compute.v2.get_version:all")
    assert route == "version" and standin.shaper.strict
    assert set(resp.body) == set(example.body) | {"min_ep_version"}  # no "stand_in" label
    standin.omit_fields("version", "git_sha")
    assert "git_sha" not in standin.http.answer(req)[0].body
