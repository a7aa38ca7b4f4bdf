"""Fault injection for the stand-in: failing requests, a paused service, offline endpoints.

Why: chiltepin promises that a site going away, a rate limit or a flaky service does not
lose or duplicate results.  Those paths are only tested if a test can make them happen on
demand, with the same status codes and error bodies the SDK sees from the real service.

Error bodies carry the fields ``globus_sdk.GlobusAPIError`` parses (``code``, ``message``,
``request_id``: its "type zero" format) plus the legacy Compute fields ``reason``,
``http_status_code`` and ``error_args`` that older SDKs read.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from chiltepin.client.limits import SlidingWindow

DEFAULT_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    422: "UNPROCESSABLE_ENTITY",
    423: "LOCKED",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
}

DEFAULT_MESSAGES = {
    400: "Bad request",
    404: "Resource not found",
    429: "Rate limit exceeded: too many requests; retry later",
    500: "Internal server error",
    503: "Service unavailable",
}


def error_body(
    status: int, code: str | None = None, message: str | None = None, *args: str
) -> dict[str, Any]:
    """The JSON error document the stand-in answers with for ``status``."""
    code = code or DEFAULT_CODES.get(status, "UNKNOWN_ERROR")
    message = message or DEFAULT_MESSAGES.get(status, code.replace("_", " ").capitalize())
    return {
        "code": code,
        "message": message,
        "reason": message,
        "http_status_code": status,
        "error_args": list(args),
        "request_id": str(uuid.uuid4()),
        "stand_in": True,
    }


@dataclass
class FailRule:
    """Fail the next ``remaining`` requests to ``route`` (a route name, a path, or ``*``)."""

    route: str
    remaining: int
    status: int
    code: str | None = None
    message: str | None = None
    retry_after: int | None = None
    until: float | None = None  # an outage: every matching request fails until then

    def matches(self, route_name: str, path: str) -> bool:
        return self.route in ("*", route_name, path) or (
            self.route.endswith("*") and path.startswith(self.route[:-1])
        )


class RateLimit(SlidingWindow):
    """At most ``requests`` requests to ``route`` in any ``window`` seconds; the rest 429."""

    def __init__(self, route: str, requests: int, window: float) -> None:
        super().__init__(requests, window)
        self.route = route


class Faults:
    """Thread-safe fault switches the HTTP service and AMQP bridge consult."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FailRule] = []
        self._paused_until = 0.0
        self._limits: list[RateLimit] = []
        self.injected: list[dict[str, Any]] = []  # what fired, for test assertions

    def fail_next(
        self,
        route: str,
        count: int = 1,
        *,
        status: int = 500,
        code: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> FailRule:
        """Make the next ``count`` requests to ``route`` answer ``status`` with an error body.

        ``route`` is a route name (``submit``, ``register_function``, ``version``,
        ``token``...; see ``GlobusStandIn.routes()``), an exact path, a path prefix ending
        in ``*``, or ``*`` for every route.  429 answers carry ``Retry-After``
        (``retry_after``, default 1 s) like the real service; note the SDK's transport
        retries 429/5xx up to 5 times before raising.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        rule = FailRule(route, count, status, code, message, retry_after)
        with self._lock:
            self._rules.append(rule)
        return rule

    def outage(
        self,
        seconds: float,
        route: str = "*",
        *,
        status: int = 503,
        message: str = "Service unavailable (stand-in outage)",
        retry_after: int | None = 1,
    ) -> FailRule:
        """Answer every request to ``route`` with ``status`` for the next ``seconds``.

        What a client sees while the service is down behind its load balancer: every call
        fails, then the service is back. (The listening socket stays bound, so no other
        stand-in on this machine can take the port meanwhile.)
        """
        rule = FailRule(
            route, 1, status, None, message, retry_after, until=time.monotonic() + seconds
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def limit_rate(self, route: str, requests: int, window: float) -> RateLimit:
        """Enforce the service's request limit on ``route``, as the real service does.

        The Compute service allows 20 requests per 10 s per client; past that it answers
        429 with ``Retry-After``. Off by default (tests poll freely); benchmarks turn it on
        so a client that ignores the limit pays for it as it would against Globus.
        """
        limit = RateLimit(route, requests, window)
        with self._lock:
            self._limits.append(limit)
        return limit

    def take(self, route_name: str, path: str) -> FailRule | None:
        """If a rule or a rate limit refuses this request, return the failure to answer."""
        now = time.monotonic()
        with self._lock:
            self._rules = [r for r in self._rules if r.until is None or r.until > now]
            for rule in self._rules:
                if rule.remaining > 0 and rule.matches(route_name, path):
                    self.injected.append({"route": route_name, "path": path, "status": rule.status})
                    if rule.until is None:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            self._rules.remove(rule)
                    return rule
            for limit in self._limits:
                if limit.route != route_name or (wait := limit.take(now)) is None:
                    continue
                self.injected.append({"route": route_name, "path": path, "status": 429})
                message = f"Rate limit exceeded: {limit.requests} requests per {limit.window:g} s"
                return FailRule(route_name, 1, 429, None, message, max(1, math.ceil(wait)))
        return None

    def pause(self, seconds: float) -> None:
        """Stop answering HTTP requests for ``seconds`` (requests hang, then proceed)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def resume(self) -> None:
        with self._lock:
            self._paused_until = 0.0

    def wait_if_paused(self) -> None:
        while True:
            with self._lock:
                left = self._paused_until - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.1))

    def clear(self) -> None:
        """Forget every rule and pause (endpoint offline flags live on the endpoints)."""
        with self._lock:
            self._rules.clear()
            self._limits.clear()
            self._paused_until = 0.0

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(vars(r)) for r in self._rules]
