"""Delivering alerts without ever holding up the run.

One thread per run sends them, in order, from a bounded queue: the run only enqueues
(an alert that finds the queue full is dropped and logged, never waited for). Each
delivery has a timeout and is retried a couple of times; a failure is logged and the
run goes on. A webhook gets the payload POSTed as JSON; a command (an argv list, never
through a shell) gets it on its stdin and succeeds by exiting 0. At shutdown the queue
is given at most one timeout to drain (the run's last alert, ``run_finished``, among
it): an unreachable webhook delays the end of a run by its timeout, no more.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

import requests

from chiltepin.federation.alerts.payload import Alert

log = logging.getLogger(__name__)
QUEUE_SIZE = 256  # alerts waiting at most: a run sends a few, a storm is cut short
RETRIES = 2  # deliveries tried again after the first fails
RETRY_PAUSE_S = 0.5  # before the first retry; doubled before each next one


class DeliveryFailed(Exception):
    """One try to deliver an alert did not succeed (the reason is the message)."""


class AlertSender:
    """Sends each alert to a webhook and/or a command, from a thread of its own."""

    def __init__(
        self, webhook: str | None, command: Sequence[str] | None, *, timeout_s: float
    ) -> None:
        self._webhook = webhook
        self._command = list(command) if command else None
        self._timeout_s = timeout_s
        self._queue: queue.Queue[Alert | None] = queue.Queue(QUEUE_SIZE)
        self._session = requests.Session()
        self._deadline: float | None = None  # monotonic; set at close
        self.delivered = 0  # alerts every target took
        self.failed = 0  # alerts some target never took
        self.dropped = 0  # alerts the full queue (or the shutdown) left unsent
        self._current: Alert | None = None  # being delivered
        self._thread = threading.Thread(target=self._run, name="chiltepin-alerts", daemon=True)
        self._thread.start()

    def send(self, alert: Alert) -> None:
        """Queue ``alert``; never waits."""
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1
            log.warning(
                "alert %s not sent: %d alerts already waiting", alert.kind.value, QUEUE_SIZE
            )

    def close(self) -> None:
        """Deliver what is queued within one timeout, then stop; what is left is logged."""
        self._deadline = time.monotonic() + self._timeout_s
        with contextlib.suppress(queue.Full):  # full: the deadline stops the thread instead
            self._queue.put_nowait(None)
        self._thread.join(self._timeout_s)
        unsent = 0
        while True:
            try:
                unsent += self._queue.get_nowait() is not None
            except queue.Empty:
                break
        busy = self._current if self._thread.is_alive() else None  # ends within its timeout
        if unsent or busy:
            self.dropped += unsent
            log.warning(
                "alerts: %d not sent%s after waiting %.3g s at shutdown",
                unsent,
                f", {busy.kind.value} still being delivered" if busy else "",
                self._timeout_s,
            )

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _run(self) -> None:
        try:
            while True:
                alert = self._queue.get()
                if alert is None or self._past_deadline():
                    return
                self._current = alert
                self._deliver(alert)
                self._current = None
        finally:
            self._session.close()

    def _deliver(self, alert: Alert) -> None:
        body = alert.body()
        ok = True
        if self._webhook is not None:
            ok &= self._try(alert, f"webhook {self._webhook}", lambda: self._post(body))
        if self._command is not None:
            ok &= self._try(alert, f"command {self._command[0]}", lambda: self._run_command(body))
        if ok:
            self.delivered += 1
        else:
            self.failed += 1

    def _try(self, alert: Alert, target: str, attempt: Callable[[], None]) -> bool:
        """``attempt`` until it succeeds, at most 1 + :data:`RETRIES` times (fewer once
        the run is shutting down: no retry that would start past its deadline); a last
        failure is logged."""
        pause = RETRY_PAUSE_S
        for number in range(1 + RETRIES):
            try:
                attempt()
                return True
            except DeliveryFailed as err:
                last = str(err)
            left = None if self._deadline is None else self._deadline - time.monotonic()
            if number == RETRIES or (left is not None and left <= pause):
                break  # no retry left, or none that could end before shutdown stops waiting
            log.debug("alert %s to %s failed (%s); trying again", alert.kind.value, target, last)
            time.sleep(pause)
            pause *= 2
        log.warning("alert %s not delivered to %s: %s", alert.kind.value, target, last)
        return False

    def _post(self, body: bytes) -> None:
        assert self._webhook is not None
        try:
            reply = self._session.post(
                self._webhook,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=self._timeout_s,
            )
        except requests.RequestException as err:
            raise DeliveryFailed(f"{type(err).__name__}: {err}") from None
        if not 200 <= reply.status_code < 300:
            raise DeliveryFailed(f"HTTP {reply.status_code} {reply.reason}")

    def _run_command(self, body: bytes) -> None:
        assert self._command is not None
        try:
            done = subprocess.run(
                self._command, input=body, capture_output=True, timeout=self._timeout_s
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise DeliveryFailed(str(err)) from None
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip()[-200:]
            raise DeliveryFailed(f"exit status {done.returncode}: {said}")
