"""What the stand-in leaves out of its answers: strict fixture mode, and injected omissions.

Strict fixture mode answers every route that has Globus example responses with exactly the
examples' keys (``chiltepin.testing.fixtures``): no ``stand_in`` labels, no status details
the examples do not show (``heartbeat_period``, ``seconds_since_heartbeat``), no task
details but the examples'. Code that passes its tests in strict mode relies on nothing
Globus has not shown it returns. Omissions drop single fields from one route's answers,
so a test can show what a decision does when the real service leaves a field out.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from chiltepin.testing.routing import Response, Route

STRICT_ENV = "CHILTEPIN_STANDIN_STRICT"
"""``1``/``true``/``yes``: stand-ins created without an explicit ``strict`` are strict."""


def strict_from_env() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes")


def _drop(body: Any, path: list[str]) -> None:
    if not isinstance(body, dict):
        return
    head, *rest = path
    if not rest:
        body.pop(head, None)
    elif head == "*":
        for value in body.values():
            _drop(value, rest)
    else:
        _drop(body.get(head), rest)


class Shaper:
    """Applies strict fixture mode and omissions to a route's answer."""

    def __init__(self, routes: list[Route], strict: bool) -> None:
        self._routes = routes
        self._strict_shapes: Any = None
        self._lock = threading.Lock()
        self._omitted: dict[str, list[list[str]]] = {}
        self.strict = strict

    @property
    def strict(self) -> bool:
        return self._strict_shapes is not None

    @strict.setter
    def strict(self, on: bool) -> None:
        if not on:
            self._strict_shapes = None
            return
        from chiltepin.testing.fixtures import StrictShapes  # needs `responses` (test extra)

        self._strict_shapes = StrictShapes(self._routes)

    def omit(self, route: str, *fields: str) -> None:
        """Leave ``fields`` (dotted paths, ``*`` for every key of a map) out of ``route``'s
        answers until :meth:`clear`: ``omit("endpoint_status", "details.heartbeat_period")``."""
        with self._lock:
            self._omitted.setdefault(route, []).extend(f.split(".") for f in fields)

    def clear(self) -> None:
        with self._lock:
            self._omitted.clear()

    def apply(self, route: str, resp: Response) -> Response:
        shapes = self._strict_shapes
        if shapes is not None:
            resp.body = shapes.prune(route, resp.status, resp.body)
        with self._lock:
            omitted = list(self._omitted.get(route, ()))
        for path in omitted:
            _drop(resp.body, path)
        return resp
