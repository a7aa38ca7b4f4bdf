"""The Globus Compute service's limits, in one place: enforced on the client before they
bite, and by the stand-in as the service enforces them.

The service allows 20 requests per 10 s per client, 10 MB per task payload and per
result, and 128 tasks per batch. Every site of one federation shares one client, so one
:class:`RateBudget` gates all of them; an oversize argument fails at ``submit`` with the
argument named, before anything is sent. :class:`SlidingWindow` is the count both sides
keep (the client's budget waits; the stand-in's ``Faults.limit_rate`` answers 429);
``MAX_BATCH`` sizes every :class:`~chiltepin.client.burst.Burst`.
"""

from __future__ import annotations

import collections
import threading
import time

from chiltepin.errors import ChiltepinError

MAX_PAYLOAD_BYTES = 10 * 1000 * 1000  # decimal MB, as the service counts
MAX_BATCH = 128  # the SDK's (and service's) largest batch
REQUESTS_PER_WINDOW = 20
WINDOW_SECONDS = 10.0


class PayloadTooLarge(ChiltepinError):
    """A task's serialised arguments exceed the service's payload limit."""


class SlidingWindow:
    """At most ``requests`` in any ``window`` seconds: the requests of the last ``window``
    seconds, counted. Not locked: its owner serialises calls."""

    def __init__(self, requests: int = REQUESTS_PER_WINDOW, window: float = WINDOW_SECONDS):
        self.requests = requests
        self.window = window
        self._sent: collections.deque[float] = collections.deque()

    def in_use(self, now: float) -> int:
        """Forget requests older than the window; return how many are left."""
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        return len(self._sent)

    def take(self, now: float) -> float | None:
        """Count a request made at ``now`` if the window has room (``None``), else leave it
        uncounted and return the seconds until it has."""
        if self.in_use(now) < self.requests:
            self._sent.append(now)
            return None
        return self.window - (now - self._sent[0])


class RateBudget:
    """A sliding-window limiter: at most ``requests`` calls in any ``window`` seconds.

    ``acquire`` blocks until a call is allowed; the waits are counted so a run can say how
    long it spent held back (ideally never, since batching keeps requests rare).
    """

    def __init__(self, requests: int = REQUESTS_PER_WINDOW, window: float = WINDOW_SECONDS):
        self._window = SlidingWindow(requests, window)
        self._lock = threading.Lock()
        self.calls = 0
        self.waited_s = 0.0

    @property
    def requests(self) -> int:
        return self._window.requests

    @property
    def window(self) -> float:
        return self._window.window

    def in_use(self) -> int:
        """Requests sent within the last window."""
        with self._lock:
            return self._window.in_use(time.monotonic())

    @property
    def pressed(self) -> bool:
        """Whether half the window's requests are spent: from here on, a caller that
        can wait and send more per request (:func:`submit_pace_s`) should."""
        return self.in_use() >= self.requests // 2

    def acquire(self) -> None:
        while True:
            with self._lock:
                delay = self._window.take(time.monotonic())
                if delay is None:
                    self.calls += 1
                    return
                self.waited_s += delay
            time.sleep(delay)


def polls_crowd_submits(endpoint_sites: int, poll_s: float) -> str | None:
    """Why polling ``endpoint_sites`` endpoints' status every ``poll_s`` seconds starves
    task submission, or ``None`` if it leaves submits at least half the request budget.

    Each poll is a request against the same 20 per 10 s as every batch submit, and late
    binding submits often (a batch each time windows open), so polls that take most of the
    budget hold every task back on the client for seconds.
    """
    share = endpoint_sites * WINDOW_SECONDS / poll_s / REQUESTS_PER_WINDOW
    if share <= 0.5:
        return None
    floor = 2 * endpoint_sites * WINDOW_SECONDS / REQUESTS_PER_WINDOW
    return (
        f"status polls of {endpoint_sites} endpoint site(s) every {poll_s:g} s take"
        f" {min(share, 1):.0%} of the service's {REQUESTS_PER_WINDOW} requests per"
        f" {WINDOW_SECONDS:g} s, leaving task submits waiting; use status_poll_s >= {floor:g}"
    )


RESERVED_PER_WINDOW = 2  # left for what is neither a submit nor a poll (registering a function)


def submit_pace_s(endpoint_sites: int, poll_s: float) -> float:
    """The shortest interval between one endpoint site's submit requests that keeps every
    site's submits and status polls within the service's request budget.

    Late binding releases tasks one at a time as workers free up; sent as they come, each
    would be a request, and a run of them spends the sliding budget in a few seconds and
    then stalls every submit until the oldest requests age out (workers idle meanwhile).
    Paced, each site's requests come evenly and each carries what was released since the
    last one. Sites pace only while the budget is :attr:`RateBudget.pressed`, so a lone
    task still goes at once. ``0`` where no endpoint site shares the budget.
    """
    if endpoint_sites <= 0:
        return 0.0
    polls = endpoint_sites * WINDOW_SECONDS / poll_s
    spare = max(1.0, REQUESTS_PER_WINDOW - RESERVED_PER_WINDOW - polls)
    return endpoint_sites * WINDOW_SECONDS / spare


def too_large(what: str, size: str) -> PayloadTooLarge:
    """The refusal of ``what``, which serialises to ``size`` (words: it may be a bound)."""
    return PayloadTooLarge(
        f"{what} serialises to {size}; Globus Compute accepts at most"
        f" {MAX_PAYLOAD_BYTES / 1e6:.0f} MB per task (every site is held to that, local ones"
        " too, so any site can take a task over). Stage large data with"
        " stage_in=/stage_out= (Globus Transfer) and pass its path instead."
    )
