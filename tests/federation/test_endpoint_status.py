"""The endpoint status monitor's states and transitions, driven poll by poll.

No service: the client answers with scripted status documents (the shapes
``GET /v2/endpoints/{id}/status`` gives, docs/standin-fidelity.md) and the site is a
small recorder of what the monitor asks of it. The end-to-end paths (a real endpoint
stopping, going silent, coming back) are tests/federation/test_announced_stop.py and
tests/testing/test_degraded_status.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chiltepin.federation.backends.status import (
    TRANSITIONS,
    EndpointState,
    StatusMonitor,
    announced_stop,
)

ONLINE = {"status": "online", "details": {"total_workers": 3, "idle_workers": 1}}
SILENT = {"status": "offline", "details": {}}
BLIP = {"status": "offline", "details": {"heartbeat_period": 30}}
STOP = {"status": "offline", "details": {"heartbeat_period": 0}}


@dataclass
class Held:
    reported: bool = False


@dataclass
class Site:
    """What the monitor reads and changes on a backend, recorded."""

    name: str = "ep"
    held_now: list[Held] = field(default_factory=list)
    accepting: bool = True
    live_workers: int | None = None
    idle_workers: int | None = None
    version_mismatch: str | None = None
    unhealthy: str | None = None
    moved: list[Held] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.unhealthy is None and self.version_mismatch is None

    @property
    def outstanding(self) -> int:
        return len(self.held_now)

    def in_flight(self) -> list[Held]:
        return list(self.held_now)

    def held(self, attempts: list[Held]) -> list[Held]:
        return [a for a in attempts if a in self.held_now]

    def on_stopped(self, attempts: list[Held]) -> int:
        self.moved += attempts
        return len(attempts)

    def mark_unhealthy(self, reason: str) -> None:
        self.unhealthy = reason

    def mark_healthy(self) -> None:
        self.unhealthy = None

    def fail_in_flight(self, error: BaseException) -> None:
        self.failed.append(str(error))

    def set_live_workers(self, workers: int | None) -> None:
        self.live_workers = workers

    def report_health(self) -> None:
        """What the backend tells the federation on each change (journalled there)."""

    def on_capacity(self) -> None:
        pass


@pytest.fixture(autouse=True)
def only_listed_transitions(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every move a test makes is in TRANSITIONS (the monitor logs an error otherwise)."""
    with caplog.at_level(logging.ERROR, logger="chiltepin.federation.backends.status"):
        yield
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


class Service:
    def __init__(self) -> None:
        self.answers: list[Any] = []

    def get_endpoint_status(self, endpoint_id: str) -> Any:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def monitor(site: Site, grace_s: float = 60.0) -> tuple[StatusMonitor, Service]:
    service = Service()
    return StatusMonitor(site, service, "ep-id", poll_s=1, grace_s=grace_s), service  # type: ignore[arg-type]


def polls(mon: StatusMonitor, service: Service, *answers: Any) -> list[EndpointState]:
    service.answers = list(answers)
    return [mon.poll() for _ in answers]


def test_online_then_an_announced_stop_moves_what_it_held_at_once() -> None:
    site = Site(held_now=[Held(), Held()])
    mon, service = monitor(site)
    assert mon.state is EndpointState.UNKNOWN
    assert polls(mon, service, ONLINE, STOP) == [EndpointState.ONLINE, EndpointState.STOPPED]
    assert site.moved == site.held_now and not site.accepting and site.live_workers == 0
    assert site.healthy  # within the grace period it is not lost


def test_a_blip_moves_nothing_and_online_again_restores_the_site() -> None:
    site = Site(held_now=[Held()])
    mon, service = monitor(site)
    assert polls(mon, service, BLIP, ONLINE) == [EndpointState.OFFLINE, EndpointState.ONLINE]
    assert site.moved == [] and site.accepting and site.live_workers == 3


def test_idle_workers_come_from_the_status_and_none_are_idle_offline() -> None:
    site = Site(held_now=[Held()])
    mon, service = monitor(site)
    polls(mon, service, ONLINE)
    assert (site.live_workers, site.idle_workers) == (3, 1)
    polls(mon, service, BLIP)
    assert (site.live_workers, site.idle_workers) == (0, 0)
    polls(mon, service, {"status": "online", "details": {"total_workers": 3}})
    assert (site.live_workers, site.idle_workers) == (3, None)  # a status that does not say


def test_no_answer_moves_nothing() -> None:
    site = Site(held_now=[Held()])
    mon, service = monitor(site)
    states = polls(mon, service, ONLINE, ConnectionError("down"), {"details": {}})
    assert states == [EndpointState.ONLINE] * 3


def test_offline_past_the_grace_period_is_lost_until_it_is_back() -> None:
    site = Site(held_now=[Held()])
    mon, service = monitor(site, grace_s=0.0)
    assert polls(mon, service, SILENT, STOP) == [EndpointState.LOST, EndpointState.LOST]
    assert site.unhealthy is not None and len(site.failed) == 1  # failed over once
    assert polls(mon, service, ONLINE) == [EndpointState.ONLINE]
    assert site.healthy and site.accepting


def test_silent_then_back_holds_its_tasks_under_suspicion_until_one_finishes() -> None:
    first, second = Held(), Held()
    site = Site(held_now=[first, second])
    mon, service = monitor(site)
    assert polls(mon, service, SILENT, ONLINE) == [EndpointState.SILENT, EndpointState.RETURNED]
    first.reported = True  # a blip after all: it still had them
    assert polls(mon, service, ONLINE) == [EndpointState.ONLINE]
    assert site.moved == []


def test_silent_then_back_with_nothing_finished_within_the_grace_period_was_a_stop() -> None:
    site = Site(held_now=[Held(), Held()])
    mon, service = monitor(site, grace_s=0.2)
    assert polls(mon, service, SILENT, ONLINE)[-1] is EndpointState.RETURNED
    time.sleep(0.3)
    assert polls(mon, service, ONLINE) == [EndpointState.ONLINE]
    assert site.moved == site.held_now


def test_nothing_outstanding_asks_nothing_and_forgets_suspects() -> None:
    held = Held()
    site = Site(held_now=[held])
    mon, service = monitor(site)
    polls(mon, service, SILENT, ONLINE)
    site.held_now = []
    assert mon.poll() is EndpointState.ONLINE  # no answer scripted: the service is not asked


def test_warming_asks_once_with_nothing_outstanding_and_learns_the_workers() -> None:
    """A federation opening asks each endpoint's status once (one request of the budget),
    so its first windows know which sites have workers; then it is quiet again until
    something is out there."""
    site = Site()
    mon, service = monitor(site)
    mon.warm()
    assert polls(mon, service, ONLINE) == [EndpointState.ONLINE]
    assert site.live_workers == 3 and site.accepting
    assert mon.poll() is EndpointState.ONLINE  # no answer scripted: asked no more


def test_a_version_mismatch_outranks_the_status() -> None:
    site = Site(held_now=[Held()])
    mon, service = monitor(site)
    polls(mon, service, ONLINE)
    site.version_mismatch = "Python 3.10 on its workers"
    assert mon.state is EndpointState.VERSION_MISMATCH


@pytest.mark.parametrize("state", list(EndpointState))
def test_every_state_but_the_pre_flights_is_reachable_and_left_only_as_listed(
    state: EndpointState,
) -> None:
    if state is EndpointState.VERSION_MISMATCH:
        assert state not in TRANSITIONS
        return
    assert EndpointState.UNKNOWN not in TRANSITIONS[state]  # never unknown again
    if state is not EndpointState.UNKNOWN:
        assert any(state in targets for targets in TRANSITIONS.values())


def test_announced_stop_reads_the_heartbeat_period() -> None:
    assert announced_stop(STOP) is True
    assert announced_stop(BLIP) is False
    assert announced_stop(SILENT) is None
