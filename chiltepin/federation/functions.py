"""Register each function once per federation and reuse its UUID on every site."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from globus_compute_sdk import Client


class FunctionRegistry:
    """Function object → Globus Compute function UUID, registered on first use.

    Keyed by object identity (the registry holds a reference, so ids are not reused);
    the service sees one registration however many sites and tasks use the function
    (tasks are submitted as the probe, so in practice there is one registration per run).
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._ids: dict[int, tuple[Callable[..., Any], str]] = {}
        self._lock = threading.Lock()
        self.registrations = 0

    def uuid_for(self, fn: Callable[..., Any]) -> str:
        with self._lock:
            known = self._ids.get(id(fn))
            if known is not None:
                return known[1]
            function_id = self._client.register_function(fn)
            self._ids[id(fn)] = (fn, function_id)
            self.registrations += 1
            return function_id
