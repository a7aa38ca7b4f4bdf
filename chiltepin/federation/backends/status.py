"""An endpoint site's status, as the federation learns it from the service.

While an endpoint site has work outstanding (or is out of placement for a spell it can
end), a monitor polls the service for the endpoint's status. Each answer moves the site
to one named :class:`EndpointState`; the transitions allowed are :data:`TRANSITIONS`, and
what each one does to the site is said where it happens (:meth:`StatusMonitor._online`,
:meth:`StatusMonitor._offline`, :meth:`StatusMonitor._idle`):

- online: the site accepts work; its live and idle workers come from the status (when it
  carries them); a site that was out of placement is back in.
- offline, said to be no stop (a heartbeat period that is not 0): a blip; the endpoint
  still owns its tasks. The site takes no new work meanwhile.
- stopped (announced): what it held is placed again at once, its attempts kept live
  beside the new ones (the first result wins).
- silent: offline without saying whether it stopped (no ``details.heartbeat_period``,
  which no Globus example shows); what it held then is *suspect*.
- returned: online again after a silent spell. Any suspect finishing means a blip (keep
  the rest); none finishing within the site's grace period of the return means a stop
  (place the unfinished again).
- lost: offline for longer than the site's grace period: out of placement, its
  in-flight attempts fail over.
- version-mismatch: not from the status but from the pre-flight
  (:class:`chiltepin.federation.preflight.Preflight`): its workers cannot read this
  client's functions, for the whole run.

An answer the service could not give (unreachable, or no ``status`` in it) moves nothing:
it is not the site's fault. docs/standin-fidelity.md lists each status field read and its
fallback.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from typing import Any

from chiltepin.client.compute import BudgetedClient
from chiltepin.federation.backends.base import Backend
from chiltepin.federation.capacity import idle_of_status, workers_of_status
from chiltepin.federation.failures import SiteFailure
from chiltepin.federation.tasks import Attempt

log = logging.getLogger(__name__)
STALE_POLL_GAP_S = 1.0  # the soonest a stale status is asked again after the last poll


class EndpointState(enum.Enum):
    """Where an endpoint site stands, as its status polls (and its pre-flight) say."""

    UNKNOWN = "unknown"  # no status answer yet
    ONLINE = "online"
    RETURNED = "returned"  # online after a silent spell; what it held then is suspect
    OFFLINE = "offline"  # offline, and its status says it did not stop
    SILENT = "silent"  # offline, and its status does not say whether it stopped
    STOPPED = "stopped"  # offline after announcing a stop
    LOST = "lost"  # offline past the site's grace period
    VERSION_MISMATCH = "version-mismatch"  # the pre-flight took it out for the run


OFFLINE_STATES = frozenset(
    {EndpointState.OFFLINE, EndpointState.SILENT, EndpointState.STOPPED, EndpointState.LOST}
)
_BACK = frozenset({EndpointState.ONLINE, EndpointState.RETURNED})
TRANSITIONS: dict[EndpointState, frozenset[EndpointState]] = {
    EndpointState.UNKNOWN: OFFLINE_STATES | {EndpointState.ONLINE},
    EndpointState.ONLINE: OFFLINE_STATES,
    # settled (a suspect finished, or the grace period passed), or nothing outstanding
    EndpointState.RETURNED: OFFLINE_STATES | {EndpointState.ONLINE},
    # each answer says which kind of offline; returned: back with suspects from a silence
    **{state: OFFLINE_STATES - {state} | _BACK for state in OFFLINE_STATES - {EndpointState.LOST}},
    EndpointState.LOST: _BACK,  # lost stays lost until the endpoint is back
}
"""From each status state, the states a poll may move the site to (``VERSION_MISMATCH``
is not among them: the pre-flight sets it, and it outranks them all for the run)."""


def announced_stop(reply: dict[str, Any]) -> bool | None:
    """Whether an offline endpoint said it was shutting down (rather than falling silent);
    ``None`` when the status does not say.

    The endpoint's last status report before it exits carries ``heartbeat_period: 0``
    (globus-compute-endpoint's "shutting down now"); the stand-in passes it through in the
    status details, but no Globus example shows the real service does (see
    docs/standin-fidelity.md). A broker outage or a partition cannot deliver that report.
    """
    details = reply.get("details") or {}
    if "heartbeat_period" not in details:
        return None
    return details["heartbeat_period"] == 0


class StatusMonitor:
    """Polls one endpoint's status and moves its site through :class:`EndpointState`."""

    def __init__(
        self,
        backend: Backend,
        client: BudgetedClient,
        endpoint_id: str,
        *,
        poll_s: float,
        grace_s: float,
    ) -> None:
        self._backend = backend
        self._client = client
        self.endpoint_id = endpoint_id
        self._poll_s = poll_s
        self._grace_s = grace_s
        self._state = EndpointState.UNKNOWN
        self._offline_since: float | None = None  # monotonic
        self._unannounced: list[Attempt] = []  # held when it went silent
        self._suspects: list[Attempt] = []  # ... and still unsettled since it returned
        self._back_at = 0.0  # monotonic
        self._stop = threading.Event()
        self._poll_now = threading.Event()  # a result showed the last status is stale
        self._polled_at = 0.0  # monotonic
        self._ask_once = False  # ask at the next poll even with nothing outstanding
        self._thread = threading.Thread(
            target=self._watch, name=f"chiltepin-status-{backend.name}", daemon=True
        )

    @property
    def state(self) -> EndpointState:
        """The site's state now (a version mismatch outranks whatever its status says)."""
        if self._backend.version_mismatch is not None:
            return EndpointState.VERSION_MISMATCH
        return self._state

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._poll_now.set()

    def warm(self) -> None:
        """Ask the service for the site's status now, once, though nothing is out there
        yet: whether it is online and how many workers it has is what the run's first
        windows open from, and it costs one request of the budget the client waits on."""
        self._ask_once = True
        self._poll_now.set()

    def poll_soon(self) -> None:
        """Ask again now rather than a poll period later (not sooner than
        :data:`STALE_POLL_GAP_S` after the last poll)."""
        if time.monotonic() - self._polled_at >= STALE_POLL_GAP_S:
            self._poll_now.set()

    def _enter(self, state: EndpointState) -> None:
        if state is self._state:
            return
        if state not in TRANSITIONS[self._state]:  # a bug here; the site still moves
            log.error("site %s: unexpected status %s -> %s", self.name, self._state, state)
        log.debug("site %s: status %s -> %s", self.name, self._state.value, state.value)
        self._state = state
        self._backend.report_health()

    @property
    def name(self) -> str:
        return self._backend.name

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._poll_now.wait(self._poll_s)
            self._poll_now.clear()
            if self._stop.is_set():
                return
            self.poll()

    def poll(self) -> EndpointState:
        """One poll, as the monitor's thread makes one every poll period (or sooner,
        :meth:`poll_soon`): the service is asked only while the site has work outstanding
        or is out of placement for a spell it can end (a version mismatch lasts the run:
        nothing to watch). Returns the state it leaves the site in."""
        backend = self._backend
        self._polled_at = time.monotonic()
        out = not backend.healthy and backend.version_mismatch is None
        if not (backend.outstanding or out or self._ask_once) and backend.accepting:
            self._idle()
            return self.state
        self._ask_once = False
        reply = self._ask()
        if reply is not None and reply["status"] == "online":
            self._online(reply, out)
        elif reply is not None:
            self._offline(reply)
        return self.state

    def _ask(self) -> dict[str, Any] | None:
        """The service's status answer; None when it gave none (unreachable, or no
        ``status`` in it): as good as no answer, and not this site's fault."""
        try:
            reply = self._client.get_endpoint_status(self.endpoint_id)
        except Exception as err:
            log.debug("status of %s unknown: %s", self.name, err)
            return None
        if reply.get("status") is None:
            log.debug("status of %s unknown: no 'status' in %s", self.name, reply)
            return None
        return reply

    def _idle(self) -> None:
        """Nothing outstanding and accepting: nothing it holds to worry about (a returned
        site's suspects are forgotten)."""
        self._offline_since, self._unannounced, self._suspects = None, [], []
        if self._state is EndpointState.RETURNED:
            self._enter(EndpointState.ONLINE)

    def _online(self, reply: dict[str, Any], out: bool) -> None:
        """Online: it accepts work again; back in placement if it was out; after a silent
        spell, what it held then is suspect until settled (:meth:`_settle_suspects`)."""
        backend = self._backend
        self._offline_since = None
        back, backend.accepting = not backend.accepting or out, True
        if self._unannounced:  # a stop or a blip: the service did not say which
            self._suspects, self._back_at, self._unannounced = (
                self._unannounced,
                time.monotonic(),
                [],
            )
        self._suspects = self._settle_suspects(self._suspects, self._back_at)
        self._enter(EndpointState.RETURNED if self._suspects else EndpointState.ONLINE)
        if out:
            log.warning("site %s is back online", self.name)
            backend.mark_healthy()
        details = reply.get("details") or {}
        backend.idle_workers = idle_of_status(details)
        backend.set_live_workers(workers_of_status(details))
        if back:
            backend.on_capacity()

    def _offline(self, reply: dict[str, Any]) -> None:
        """Offline: no new work; an announced stop re-places what it holds at once, a
        silent one makes it suspect; past the grace period the site is lost."""
        backend = self._backend
        backend.accepting = False
        backend.idle_workers = 0
        backend.set_live_workers(0)
        stop = announced_stop(reply)
        if stop:
            self._replace_stopped(backend.in_flight(), "the endpoint announced a stop")
        elif stop is None and not self._unannounced:
            self._unannounced = backend.in_flight()
        self._offline_since = self._offline_since or time.monotonic()
        lost = time.monotonic() - self._offline_since >= self._grace_s
        if lost:
            self._enter(EndpointState.LOST)
        elif stop is not None:
            self._enter(EndpointState.STOPPED if stop else EndpointState.OFFLINE)
        else:
            self._enter(EndpointState.SILENT)
        if lost and backend.healthy:
            reason = f"endpoint {self.endpoint_id} offline for {self._grace_s:.0f} s"
            backend.mark_unhealthy(reason)
            backend.fail_in_flight(SiteFailure(self.name, reason))
            self._unannounced = []

    def _settle_suspects(self, suspects: list[Attempt], back_at: float) -> list[Attempt]:
        """Decide about what an endpoint held when it went offline unannounced.

        Used only when the service's status carries no ``details.heartbeat_period`` (no
        Globus example shows it), so a stop cannot be told from a blip. An endpoint that
        lived through a blip still owns its tasks and delivers some of them once back; a
        stopped one lost them all. So: any of them finished since -> a blip, keep the rest;
        none finished within ``offline_grace_s`` of the endpoint being back -> a stop,
        place the unfinished again (at worst a blip's long tasks run twice; results count
        once). Returns the attempts still under suspicion.
        """
        if not suspects or any(a.reported for a in suspects):
            return []
        if time.monotonic() - back_at < self._grace_s:
            return suspects
        unfinished = [a for a in suspects if not a.reported]
        self._replace_stopped(unfinished, "nothing it held finished after an offline spell")
        return []

    def _replace_stopped(self, held: list[Attempt], why: str) -> None:
        """The endpoint stopped (``why``): what it held goes elsewhere at once.

        A user endpoint takes the tasks queued for it as fast as its engine accepts them and
        acknowledges each to the broker on hand-over, so a stop (an operator's restart, a
        new configuration) may end them with no copy left to redeliver; waiting out the
        grace period would idle them meanwhile. So they are placed again now, on sites
        that can start them (this one takes no new work until it is back online). They
        are not given up: if the endpoint comes back with its queue intact and answers
        first, that result wins (the federation counts the other run as a duplicate); if
        it stays away past the grace period, they fail as any in-flight attempt does. A
        broker or network blip is different: the endpoint lives on and still owns its
        tasks, and it never announced a stop, so nothing is re-placed then.
        """
        still = self._backend.held(held)
        moved = self._backend.on_stopped(still) if still else 0
        if moved:
            log.warning("site %s stopped (%s): placing its %d tasks again", self.name, why, moved)
