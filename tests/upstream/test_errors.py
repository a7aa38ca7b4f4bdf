"""Contract: the exception names and SDK messages chiltepin recognises still exist."""

from __future__ import annotations

import importlib
import inspect

import pytest
from globus_compute_sdk.sdk import executor as sdk_executor

from chiltepin.upstream.errors import RESULT_WATCHER_DIED, SYSTEM_EXCEPTIONS
from tests.upstream.contract import contract

# Where each name of SYSTEM_EXCEPTIONS is defined in the pinned packages.
DEFINED_IN = {
    "WorkerLost": ("parsl", "parsl.executors.high_throughput.errors"),
    "ManagerLost": ("parsl", "parsl.executors.high_throughput.errors"),
    "BadStateException": ("parsl", "parsl.executors.errors"),
    "ScalingFailed": ("parsl", "parsl.executors.errors"),
    "ExecutorError": ("parsl", "parsl.executors.errors"),
    "CouldNotExecuteUserTaskError": (
        "globus-compute-endpoint",
        "globus_compute_endpoint.exceptions",
    ),
}


def test_every_system_exception_name_is_known_here() -> None:
    assert set(DEFINED_IN) == SYSTEM_EXCEPTIONS


@pytest.mark.parametrize("name", sorted(DEFINED_IN))
def test_every_system_exception_is_an_upstream_exception_class(name: str) -> None:
    dist, module = DEFINED_IN[name]
    with contract(f"{module}.{name}", dist, "is an exception class"):
        cls = getattr(importlib.import_module(module), name)
        assert inspect.isclass(cls) and issubclass(cls, BaseException)


@pytest.mark.parametrize("prefix", RESULT_WATCHER_DIED)
def test_the_result_watcher_still_fails_futures_with_these_messages(prefix: str) -> None:
    source = inspect.getsource(sdk_executor._ResultWatcher)
    with contract(
        "globus_compute_sdk.sdk.executor._ResultWatcher",
        "globus-compute-sdk",
        f"fails its futures with RuntimeError({prefix!r}...)",
    ):
        assert "RuntimeError(" in source
        assert prefix in source
