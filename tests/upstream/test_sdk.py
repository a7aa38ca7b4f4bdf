"""Contract: the SDK Executor's internals chiltepin reads, against a real endpoint
(through the stand-in), and the SDK's own Globus app."""

from __future__ import annotations

import inspect
from pathlib import Path

import globus_sdk
import pytest
from globus_compute_sdk import Client
from globus_compute_sdk.sdk import executor as sdk_executor

from chiltepin import auth
from chiltepin.client.compute import BudgetedClient
from chiltepin.system.waiting import wait_until
from chiltepin.testing.server import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint
from chiltepin.upstream import sdk
from tests.upstream.contract import contract

pytestmark = pytest.mark.rabbitmq
SDK = "globus-compute-sdk"


def test_a_submitted_future_names_its_task_group_and_its_watcher_can_be_stopped(
    standin_endpoint: SiteEndpoint,
) -> None:
    client = BudgetedClient(app=auth.globus_app())
    executor = client.executor(standin_endpoint.endpoint_id)
    assert executor.serializer is client.call_serializer  # the public way in, no swap
    try:
        with contract("Executor._stopped", SDK, "marks a stopped Executor"):
            assert sdk.executor_stopped(executor) is False
        future = executor.submit(pow, 2, 5)
        assert future.result(timeout=120) == 32
        with contract("ComputeFuture._metadata['task_group_uuid']", SDK, "holds the task group"):
            assert sdk.future_task_group(future) == str(executor.task_group_id)
        with contract("executor._RESULT_WATCHERS", SDK, "maps task groups to result watchers"):
            watcher = sdk.result_watcher(executor.task_group_id)
            assert isinstance(watcher, sdk_executor._ResultWatcher) and watcher.is_alive()
        with contract("_ResultWatcher._to_ack", SDK, "lists the results not yet acknowledged"):
            assert sdk.unacknowledged_results(watcher) >= 0
    finally:
        executor.shutdown(wait=False)
    with contract("Executor._stopped", SDK, "marks a stopped Executor"):
        assert sdk.executor_stopped(executor) is True
    sdk.stop_result_watcher(executor.task_group_id)
    assert wait_until(lambda: not watcher.is_alive(), 30, what="the result watcher to stop")


def test_all_result_watchers_are_stopped_and_forgotten(standin_endpoint: SiteEndpoint) -> None:
    executor = BudgetedClient(app=auth.globus_app()).executor(standin_endpoint.endpoint_id)
    try:
        assert executor.submit(pow, 3, 2).result(timeout=120) == 9
        watcher = sdk.result_watcher(executor.task_group_id)
        assert watcher is not None and watcher.is_alive()
    finally:
        executor.shutdown(wait=False)
    with contract("executor._RESULT_WATCHERS", SDK, "holds every result watcher"):
        sdk.stop_all_result_watchers()
        assert not watcher.is_alive()
        assert sdk.result_watcher(executor.task_group_id) is None


def test_a_rebased_client_calls_the_new_address(globus_standin: GlobusStandIn) -> None:
    client = Client(local_compute_services=True, do_version_check=False)
    with contract("Client._compute_web_client", SDK, "carries the Client's service calls"):
        sdk.rebase_client(client, f"{globus_standin.url}/nowhere")
        with pytest.raises(globus_sdk.GlobusAPIError) as missing:
            client.get_endpoints()
        assert missing.value.http_status == 404
        sdk.rebase_client(client, globus_standin.url)
        assert isinstance(client.get_endpoints(), list)


def test_the_sdk_app_keeps_its_tokens_in_the_user_dir(
    globus_standin: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLOBUS_COMPUTE_USER_DIR", str(tmp_path))
    with contract("sdk.auth.globus_app.get_globus_app", SDK, "stores tokens in storage.db"):
        assert "environment" in inspect.signature(sdk.get_globus_app).parameters
        sdk.compute_app()
        assert sdk.token_storage_file(tmp_path).is_file()


def test_a_secret_without_an_id_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """``chiltepin.auth`` turns this ValueError into its own clear error."""
    monkeypatch.delenv(auth.CLIENT_ID_ENV, raising=False)
    monkeypatch.setenv(auth.CLIENT_SECRET_ENV, "secret")
    with contract("sdk.auth.globus_app.get_globus_app", SDK, "raises ValueError"):
        raised = None
        try:
            sdk.compute_app()
        except ValueError as err:
            raised = err
        assert raised is not None, "a secret without an id was accepted"
