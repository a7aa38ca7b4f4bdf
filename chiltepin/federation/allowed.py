"""Submitting to an endpoint that runs only allow-listed functions.

Such an endpoint refuses chiltepin's probe (:mod:`chiltepin.probe`), which wraps every
other site's tasks, because an administrator allowed the user's functions, not it. So its
tasks are the user's function itself, submitted by the id the allow-list gives for it
(``module:function`` names in the site's ``allowed_functions``, among the ids the service
says the endpoint allows). A function with no allowed id fails at once, naming the
endpoint and the function, instead of being sent to be refused. The run report then knows
where such a task ran only as "this endpoint", and its run time includes its wait there.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Any

from chiltepin.client.calls import SERIALIZER
from chiltepin.endpoints.allowlist import Allowed, function_name
from chiltepin.federation.failures import SiteFailure


class FunctionNotAllowed(SiteFailure):
    """The endpoint's allow-list has no id for the function (another site may run it)."""


class AllowList:
    """What an allow-listed endpoint runs: service-side ids, named by the site file."""

    def __init__(
        self, site: str, endpoint_id: str, allowed_ids: list[str], named: list[Allowed]
    ) -> None:
        self.site = site
        self.endpoint_id = endpoint_id
        ids = set(allowed_ids)
        self._ids = {a.name: a.function_id for a in named if a.name and a.function_id in ids}
        self._names: dict[str, str] = {}  # serialised function → module:function
        self._lock = threading.Lock()

    def function_id(self, serialized_function: str) -> str:
        """The allowed id of the call's function; :class:`FunctionNotAllowed` if none."""
        with self._lock:
            name = self._names.get(serialized_function)
        if name is None:
            name = function_name(SERIALIZER.deserialize(serialized_function))
            with self._lock:
                self._names[serialized_function] = name
        found = self._ids.get(name)
        if found is None:
            raise FunctionNotAllowed(
                self.site,
                f"function {name} is not on the allow-list of endpoint {self.endpoint_id};"
                f" an administrator adds it with: chiltepin endpoint allow ENDPOINT {name}"
                " (and the site file's allowed_functions names it)",
            )
        return found


def with_record(future: Future[Any], site: str) -> Future[Any]:
    """``future``'s value as the probe would return it: (value, record), the record
    knowing only the site and when the client saw the task sent and finished."""
    sent = time.time()
    out: Future[Any] = Future()

    def done(inner: Future[Any]) -> None:
        if inner.cancelled():
            out.cancel()
            out.set_running_or_notify_cancel()
        elif inner.exception() is not None:
            out.set_exception(inner.exception())
        else:
            out.set_result((inner.result(), (f"endpoint-{site}", 1, site, sent, time.time())))

    future.add_done_callback(done)
    return out
