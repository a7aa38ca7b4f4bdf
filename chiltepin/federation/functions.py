"""Register each function once per federation and reuse its UUID on every site."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from globus_compute_sdk import Client
from globus_compute_sdk.serialize import ComputeSerializer

from chiltepin.upstream.sdk import register_function_with


class FunctionRegistry:
    """Function object (and code strategy) → Globus Compute function UUID, registered on
    first use.

    Keyed by object identity (the registry holds a reference, so ids are not reused);
    the service sees one registration however many sites and tasks use the function
    (tasks are submitted as the probe, so in practice there is one registration per run,
    plus the version pre-flight's). ``serializer`` registers with another code strategy
    than the client's (functions sent as source).
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._ids: dict[tuple[int, int], tuple[Callable[..., Any], str]] = {}
        self._lock = threading.Lock()
        self.registrations = 0

    def uuid_for(
        self, fn: Callable[..., Any], *, serializer: ComputeSerializer | None = None
    ) -> str:
        key = (id(fn), id(serializer))
        with self._lock:
            known = self._ids.get(key)
            if known is not None:
                return known[1]
            if serializer is None:
                function_id = self._client.register_function(fn)
            else:
                budget = getattr(self._client, "budget", None)
                if budget is not None:
                    budget.acquire()
                function_id = register_function_with(self._client, fn, serializer)
            self._ids[key] = (fn, function_id)
            self.registrations += 1
            return function_id
