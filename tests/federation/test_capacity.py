"""How busy a site is, read from what it reports: idle workers from an interchange's
managers or an endpoint status's details, batch blocks from Parsl's block states."""

from __future__ import annotations

from globus_sdk.testing.data.compute.v2.get_endpoint_status import DEFAULT_RESPONSE_DOC
from parsl.jobs.states import JobState

from chiltepin.federation.capacity import (
    Blocks,
    blocks_of_states,
    idle_of_managers,
    idle_of_status,
    workers_of_managers,
    workers_of_status,
)


def test_idle_workers_of_managers_are_their_workers_less_their_tasks() -> None:
    managers = [
        {"worker_count": 4, "tasks": 1, "active": True},
        {"worker_count": 2, "tasks": 5, "active": True},  # prefetched past its workers: 0
        {"worker_count": 4, "tasks": 0, "active": False},  # draining: takes nothing new
    ]
    assert idle_of_managers(managers) == 3
    assert workers_of_managers(managers) == 6  # idle is a part of the live workers
    assert idle_of_managers([]) == 0


def test_idle_workers_of_the_services_documented_status() -> None:
    details = dict(DEFAULT_RESPONSE_DOC["details"])  # the SDK's fixture of the real reply
    assert (workers_of_status(details), idle_of_status(details)) == (1, 0)
    assert idle_of_status({**details, "idle_workers": 3}) == 3
    assert idle_of_status({"total_workers": 2}) is None  # a status that does not say
    assert idle_of_status({"idle_workers": True}) is None
    assert idle_of_status({"idle_workers": "2"}) is None
    assert idle_of_status({"idle_workers": -1}) == 0


def test_blocks_of_parsl_states_count_running_and_pending_only() -> None:
    states = [
        JobState.RUNNING,
        JobState.PENDING,
        JobState.RUNNING,
        JobState.COMPLETED,
        JobState.CANCELLED,
        JobState.FAILED,
    ]
    assert blocks_of_states(states) == Blocks(running=2, pending=1)
    assert blocks_of_states([]) == Blocks(0, 0)
