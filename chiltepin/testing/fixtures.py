"""Globus's own example responses as shapes: what "strict fixture" mode returns, and what the
conformance tests compare the stand-in with.

``globus_sdk.testing.data`` ships, per SDK method, the responses the real Compute, Auth and
Transfer services give (maintained by Globus). A *shape* keeps a response's keys and value
types and drops its values; several example cases of one route merge into one shape. An
object whose keys are all UUIDs (``batch_status`` results by task id, submit's tasks by
function id) is a *map*: its keys are data, its values share one shape.

Loading the examples needs the ``responses`` package (a test dependency), so this module is
imported only by tests and by a stand-in started in strict mode.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from chiltepin.testing.routing import Route

SERVICES = ("compute", "auth", "transfer")
SCALARS = {"string", "integer", "number", "boolean"}

CLIENT_READS: dict[str, dict[str, Any]] = {
    "version": {"min_ep_version": "1.0.0"},
    "register_endpoint": {"heartbeat_queue_info": {}, "command_queue_info": {}},
    "register_endpoint_v2": {"heartbeat_queue_info": {}, "command_queue_info": {}},
    "update_endpoint": {"heartbeat_queue_info": {}, "command_queue_info": {}},
    "get_task": {"exception": "", "details": {"endpoint_id": ""}},
    "batch_status": {
        "results": {str(uuid.UUID(int=0)): {"exception": "", "details": {"endpoint_id": ""}}}
    },
}
"""Keys no example shows that Globus's own client code reads, so the real service sends them;
strict mode keeps them. ``min_ep_version``: ``globus_compute_sdk`` ``Client.version_check``
indexes it (the example shows ``min_endpoint_version``). The queue infos:
``globus_compute_endpoint`` indexes ``heartbeat_queue_info`` (``endpoint.py``, every
endpoint) and ``command_queue_info`` (``core_endpoint.py``, template-capable endpoints) in its
registration reply; the examples predate both. ``exception``: the examples show a succeeded
task only; ``Executor.reload_tasks`` indexes a failed task's ``exception``. Task
``details.endpoint_id``: ``globus_compute_endpoint`` puts it into every result's details
(``engines/helper.py``) beside the keys the example shows, and ``globus_compute_sdk`` reads
it (``check_version``). An empty object keeps its contents whole."""


@dataclass(frozen=True)
class Example:
    """One example response: ``compute.v2.get_task:default`` and what it answers."""

    name: str
    method: str
    path: str
    status: int
    body: Any


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_uuid(key: str) -> bool:
    try:
        uuid.UUID(key)
    except ValueError:
        return False
    return True


@dataclass
class Shape:
    """Keys and types of a JSON value; ``open`` objects (``{}`` in an example) keep any keys."""

    types: set[str] = field(default_factory=set)
    keys: dict[str, Shape] = field(default_factory=dict)
    map_value: Shape | None = None
    item: Shape | None = None
    open: bool = False

    @classmethod
    def of(cls, value: Any) -> Shape:
        shape = cls()
        shape.add(value)
        return shape

    def add(self, value: Any) -> None:
        """Merge one more example value into this shape."""
        kind = _type(value)
        self.types.add(kind)
        if kind == "object":
            if not value:
                self.open = True
            elif all(_is_uuid(k) for k in value):
                for v in value.values():
                    self.map_value = self.map_value or Shape()
                    self.map_value.add(v)
            else:
                for k, v in value.items():
                    self.keys.setdefault(k, Shape()).add(v)
        elif kind == "array":
            for v in value:
                self.item = self.item or Shape()
                self.item.add(v)

    def differences(self, value: Any, where: str = "$") -> list[str]:
        """Where ``value`` lacks a key this shape has, or has another type (values ignored).

        ``null`` passes where the examples show a scalar: the services answer ``null`` for an
        optional value that is not set (``department`` in a Transfer endpoint document, say),
        and an example shows one that is."""
        kind = _type(value)
        unset = kind == "null" and bool(self.types & SCALARS)  # an optional value left unset
        if kind not in self.types and self.types != {"null"} and not unset:
            return [f"{where}: {kind}, Globus answers {'/'.join(sorted(self.types))}"]
        out: list[str] = []
        if kind == "object":
            for k, sub in self.keys.items():
                if k not in value:
                    out.append(f"{where}.{k}: missing")
                else:
                    out += sub.differences(value[k], f"{where}.{k}")
            if self.map_value is not None:
                for k, v in value.items():
                    out += self.map_value.differences(v, f"{where}[{k}]")
        elif kind == "array" and self.item is not None:
            for i, v in enumerate(value):
                out += self.item.differences(v, f"{where}[{i}]")
        return out

    def prune(self, value: Any) -> Any:
        """``value`` without the keys this shape lacks (strict fixture mode)."""
        kind = _type(value)
        if kind == "object" and not self.open:
            if self.map_value is not None:
                return {k: self.map_value.prune(v) for k, v in value.items()}
            return {k: self.keys[k].prune(v) for k, v in value.items() if k in self.keys}
        if kind == "array" and self.item is not None:
            return [self.item.prune(v) for v in value]
        return value


@cache
def examples() -> tuple[Example, ...]:
    """Every example response of the Compute, Auth and Transfer services in globus-sdk."""
    from globus_sdk.testing.models import ResponseList

    found = []
    for service in SERVICES:
        package = importlib.import_module(f"globus_sdk.testing.data.{service}")
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.ispkg or info.name.rsplit(".", 1)[-1].startswith("_"):
                continue
            responses = getattr(importlib.import_module(info.name), "RESPONSES", None)
            if responses is None:
                continue
            for case in responses.cases():
                entry = responses.lookup(case)
                many = entry.responses if isinstance(entry, ResponseList) else [entry]
                for r in many:
                    found.append(
                        Example(
                            f"{info.name.removeprefix('globus_sdk.testing.data.')}:{case}",
                            r.method,
                            r.path.split("?", 1)[0],
                            r.status,
                            r.json,
                        )
                    )
    return tuple(found)


def route_of(example: Example, routes: list[Route]) -> Route | None:
    """The stand-in route that serves ``example``'s method and path, if any."""
    return next((r for r in routes if r.match(example.method, example.path) is not None), None)


class StrictShapes:
    """Per route and status, the merged shape of Globus's examples plus ``CLIENT_READS``."""

    def __init__(self, routes: list[Route]) -> None:
        self._shapes: dict[tuple[str, int], Shape] = {}
        for ex in examples():
            route = route_of(ex, routes)
            if route is None:
                continue
            shape = self._shapes.setdefault((route.name, ex.status), Shape())
            shape.add(ex.body)
            if ex.status < 300 and route.name in CLIENT_READS:
                shape.add(CLIENT_READS[route.name])

    def prune(self, route_name: str, status: int, body: Any) -> Any:
        shape = self._shapes.get((route_name, status))
        return body if shape is None else shape.prune(body)
