"""``globus_compute_sdk`` internals: the Executor's state, its futures' task group, its
result watchers, the Client's web client, and the SDK's own Globus app.

The SDK's public surface has no way to ask whether an ``Executor`` stopped itself (its
submission thread dies on a failed request), which task group the service put a submitted
task in, or to stop the AMQP result watcher ``Executor.shutdown`` leaves connected. Parsl's
own ``GlobusComputeExecutor.shutdown`` reaches the watcher the same way. A ``Client`` takes
no service URL: its ``local`` environment is hard-wired to ``localhost:5000``.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

import globus_sdk
from globus_compute_sdk import Client, Executor
from globus_compute_sdk.sdk import executor as sdk_executor
from globus_compute_sdk.sdk.asynchronous.compute_future import ComputeFuture
from globus_compute_sdk.sdk.auth.globus_app import get_globus_app
from globus_compute_sdk.sdk.client import FunctionRegistrationData, _ComputeWebClient
from globus_compute_sdk.serialize import ComputeSerializer

#: The SQLite file, in the Globus Compute user directory, where the SDK's app keeps tokens.
TOKEN_STORAGE = "storage.db"


def executor_stopped(executor: Executor) -> bool:
    """Whether ``executor`` refuses new work: shut down, or its submission thread died."""
    return bool(executor._stopped)


def future_task_group(future: ComputeFuture) -> str | None:
    """The task group the service filed an SDK-submitted task under (``None`` before the
    submit reply arrived)."""
    group = future._metadata.get("task_group_uuid")
    return str(group) if group else None


def result_watcher(task_group: uuid.UUID) -> Any | None:
    """The SDK's AMQP result watcher of one task group (``None`` until an Executor of
    that group waits for a result). Its ``poll_period_s`` sets how often it acknowledges
    the results it received."""
    return sdk_executor._RESULT_WATCHERS.get(task_group)


def unacknowledged_results(watcher: Any) -> int:
    """Results ``watcher`` received but has not yet acknowledged to the broker (those a
    broker outage makes it fail)."""
    return len(watcher._to_ack)


def stop_result_watcher(task_group: uuid.UUID) -> None:
    """Stop the SDK's AMQP result watcher of one task group, cancelling what it still
    watches (``Executor.shutdown`` leaves it connected)."""
    watcher = result_watcher(task_group)
    if watcher is not None:
        watcher.shutdown(wait=False, cancel_futures=True)


def stop_all_result_watchers() -> None:
    """Stop every result watcher of this process, waiting for their threads, and forget them.

    Left connected until interpreter exit, they spin on reconnect attempts (and warnings)
    for up to a minute once the broker is gone; a session that stops the broker calls this
    first. One that fails to stop does not keep the others running.
    """
    for watcher in list(sdk_executor._RESULT_WATCHERS.values()):
        with contextlib.suppress(Exception):
            watcher.shutdown(wait=True, cancel_futures=True)
    sdk_executor._RESULT_WATCHERS.clear()


def rebase_client(client: Client, base_url: str) -> None:
    """Send ``client``'s web service calls to ``base_url``, with the credentials it has
    (a stand-in on a port other than the ``local`` environment's 5000)."""
    client.web_service_address = base_url
    auth: dict[str, Any] = (
        {"authorizer": client.authorizer} if client.authorizer else {"app": client.app}
    )
    client._compute_web_client = _ComputeWebClient(base_url=base_url, **auth)


def register_function_with(client: Client, function: Any, serializer: ComputeSerializer) -> str:
    """Register ``function`` serialised by ``serializer`` (``Client.register_function``
    always uses the client's own code strategy): how a run whose functions travel as
    source registers them."""
    data = FunctionRegistrationData(function=function, serializer=serializer)
    with client._request_lock:
        reply = client._compute_web_client.v3.register_function(data.to_dict())
    return str(reply.data["function_uuid"])


def compute_app() -> globus_sdk.GlobusApp:
    """The SDK's own app (a client identity when ``GLOBUS_COMPUTE_CLIENT_ID`` and
    ``..._SECRET`` are set, else a user login), keeping its tokens in
    :func:`token_storage_file`. Raises ``ValueError`` for a secret without an id."""
    return get_globus_app()


def token_storage_file(user_dir: Path) -> Path:
    """Where the SDK's app keeps tokens for the Globus Compute user directory ``user_dir``."""
    return user_dir / TOKEN_STORAGE
