"""Endpoints' status for the dashboard's endpoints page, asked of the Compute web service
sparingly: the service allows 20 requests per 10 s per user, and that budget belongs to
the runs.

:class:`StatusPoller` asks only while the endpoints page is being looked at (its JSON was
asked for within :data:`LOOKED_AT_S`), one endpoint at a time from a thread of its own
(so a slow or unreachable service never holds a page's request up): at most one request
per :data:`ENDPOINT_EVERY_S` per endpoint, and never more than one per
:data:`REQUEST_EVERY_S` all endpoints together: two requests per 10 s at most, which
leaves the runs eighteen of their twenty. An endpoint that a live run already reports on
(the run's own status events, fresher than :data:`FRESH_S`) is not asked at all: the
page shows what the run wrote (:mod:`chiltepin.dashboard.endpoints`).

Without a Globus login nothing is asked (an interactive login cannot happen inside a
server) and every reading says how to log in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chiltepin.federation.backends.status import announced_stop
from chiltepin.federation.capacity import idle_of_status, workers_of_status

#: The soonest any status request follows the previous one, whichever endpoint it asks:
#: at most 2 of the service's 20 requests per 10 s, the rest left to the runs.
REQUEST_EVERY_S = 5.0
#: The soonest one endpoint's status is asked again.
ENDPOINT_EVERY_S = 30.0
#: How long after the page last asked for its data the poller keeps asking the service.
LOOKED_AT_S = 10.0
#: A live run's own status of an endpoint, if this recent, stands in for asking.
FRESH_S = 10.0
NOT_LOGGED_IN = (
    "not logged in to Globus, so the service cannot be asked for endpoint status:"
    " run `chiltepin login` (or set GLOBUS_COMPUTE_CLIENT_ID and _SECRET)"
)

Ask = Callable[[str], dict[str, Any]]


class NotLoggedIn(Exception):
    """No usable Globus login: asking would need an interactive login."""


@dataclass(frozen=True)
class Reading:
    """What is known of one endpoint's status: ``status`` is online, offline, stopped or
    unknown; the workers are the status details' (None where it does not say); ``at``
    when it was asked (or written by a run); ``source`` "service" or the run it came
    from; ``error`` why it is unknown."""

    status: str
    total_workers: int | None = None
    idle_workers: int | None = None
    at: float | None = None
    source: str = "service"
    error: str | None = None


def reading_of(reply: dict[str, Any], at: float) -> Reading:
    """The service's status answer as a reading: offline after announcing a stop is
    stopped (:func:`~chiltepin.federation.backends.status.announced_stop`)."""
    said = reply.get("status")
    details = reply.get("details") or {}
    if said == "online":
        status = "online"
    elif said == "offline":
        status = "stopped" if announced_stop(reply) else "offline"
    else:
        return Reading(
            "unknown", at=at, error=f"the service's answer has no status: {reply!r:.200}"
        )
    return Reading(status, workers_of_status(details), idle_of_status(details), at)


def service_ask() -> Ask:
    """Ask the Compute web service through chiltepin's Globus app and Compute client;
    raises :class:`NotLoggedIn` where a login would have to be interactive."""
    from chiltepin import auth
    from chiltepin.client.compute import BudgetedClient

    client: BudgetedClient | None = None

    def ask(endpoint_id: str) -> dict[str, Any]:
        nonlocal client
        if client is None:
            app = auth.globus_app()
            if not auth.uses_client_credentials() and app.login_required():
                raise NotLoggedIn(NOT_LOGGED_IN)
            client = BudgetedClient(app=app, do_version_check=False)
        reply = client.get_endpoint_status(endpoint_id)
        return dict(reply)

    return ask


class StatusPoller:
    """Readings of the endpoints the page wants, asked within the rates above (each a
    parameter, so a test can shorten them)."""

    def __init__(
        self,
        ask: Ask | None = None,
        *,
        request_every_s: float = REQUEST_EVERY_S,
        endpoint_every_s: float = ENDPOINT_EVERY_S,
        looked_at_s: float = LOOKED_AT_S,
    ) -> None:
        self._ask = ask
        self.request_every_s = request_every_s
        self.endpoint_every_s = endpoint_every_s
        self.looked_at_s = looked_at_s
        self._readings: dict[str, Reading] = {}
        self._wanted: list[str] = []
        self._asked: dict[str, float] = {}  # endpoint id → monotonic time last asked
        self._last_request = float("-inf")
        self._looked_at = float("-inf")
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def readings(self) -> dict[str, Reading]:
        with self._lock:
            return dict(self._readings)

    def want(self, endpoint_ids: Iterable[str]) -> None:
        """The page is looked at and wants these endpoints' status: keep asking (within
        the rates) for a while."""
        with self._lock:
            self._wanted = list(dict.fromkeys(endpoint_ids))
            self._looked_at = time.monotonic()
            if self._stopped or not self._wanted:
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="chiltepin-dashboard-status", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=30)

    def due(self, now: float) -> str | None:
        """The endpoint to ask at ``now`` (monotonic), if any may be asked: the one asked
        longest ago (never first), when both rates allow."""
        with self._lock:
            if now - self._last_request < self.request_every_s:
                return None
            never = float("-inf")
            ready = [
                e for e in self._wanted if now - self._asked.get(e, never) >= self.endpoint_every_s
            ]
            if not ready:
                return None
            chosen = min(ready, key=lambda e: self._asked.get(e, never))
            self._asked[chosen] = self._last_request = now
            return chosen

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopped or time.monotonic() - self._looked_at > self.looked_at_s:
                    self._thread = None
                    return
            endpoint_id = self.due(time.monotonic())
            if endpoint_id is not None:
                self._record(endpoint_id)
            self._wake.wait(0.5)

    def _record(self, endpoint_id: str) -> None:
        if self._ask is None:
            self._ask = service_ask()
        try:
            reading = reading_of(self._ask(endpoint_id), time.time())
        except NotLoggedIn as err:
            reading = Reading("unknown", at=time.time(), error=str(err))
        except Exception as err:  # the service's refusal or an unreachable service: shown
            text = f"{type(err).__name__}: {err}".splitlines()[0][:300]
            reading = Reading("unknown", at=time.time(), error=text)
        with self._lock:
            self._readings[endpoint_id] = reading
