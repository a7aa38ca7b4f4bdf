"""The endpoint backend's path to an endpoint that runs only allow-listed functions.

Such an endpoint refuses chiltepin's probe (:mod:`chiltepin.probe`), which wraps every
other site's tasks, because an administrator allowed the user's functions, not it. So its
tasks are the user's function itself, submitted by the id the allow-list gives for it
(``module:function`` names in the site's ``allowed_functions``, among the ids the service
says the endpoint allows: :class:`chiltepin.sites.allowlist.AllowList`). A function with
no allowed id fails at once, naming the endpoint and the function, instead of being sent
to be refused. The run report then knows where such a task ran only as "this endpoint",
and its run time includes its wait there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from globus_compute_sdk import Executor

from chiltepin.client.calls import SERIALIZER
from chiltepin.client.compute import BudgetedClient
from chiltepin.federation.backends.base import failed
from chiltepin.federation.failures import SiteFailure
from chiltepin.federation.tasks import Attempt
from chiltepin.sites.allowlist import AllowList, function_name, resolve

log = logging.getLogger(__name__)

Finished = Callable[[Future[Any]], None]


class FunctionNotAllowed(SiteFailure):
    """The endpoint's allow-list has no id for the function (another site may run it)."""


class AllowListed:
    """Whether an endpoint runs only allowed functions (asked of the service once), and
    submitting to it by allowed id when it does."""

    def __init__(
        self,
        site: str,
        endpoint_id: str,
        client: BudgetedClient,
        allowed_functions: list[str] | str | None,
    ) -> None:
        self.site = site
        self.endpoint_id = endpoint_id
        self._client = client
        self._allowed_functions = allowed_functions  # the site file's entries
        self._allow_list: AllowList | None = None
        self._known = False
        self._names: dict[str, str] = {}  # serialised function → module:function
        self._lock = threading.Lock()

    def allow_list(self) -> AllowList | None:
        """The endpoint's allow-list, asked of the service once (None: it runs anything,
        or the service has not said yet: asked again with the next burst)."""
        if not self._known:
            try:
                reply = self._client.get_allowed_functions(self.endpoint_id)
            except Exception as err:  # not known yet: ask again with the next burst
                log.debug("allow-list of %s unknown: %s", self.site, err)
                return None
            self._known = True
            if reply.get("restricted"):
                named = resolve(self._allowed_functions)
                self._allow_list = AllowList(list(reply.get("functions") or []), named)
        return self._allow_list

    def function_id(self, allow_list: AllowList, serialized_function: str) -> str:
        """The allowed id of the call's function; :class:`FunctionNotAllowed` if none."""
        with self._lock:
            name = self._names.get(serialized_function)
        if name is None:
            name = function_name(SERIALIZER.deserialize(serialized_function))
            with self._lock:
                self._names[serialized_function] = name
        found = allow_list.function_id(name)
        if found is None:
            raise FunctionNotAllowed(
                self.site,
                f"function {name} is not on the allow-list of endpoint {self.endpoint_id};"
                f" an administrator adds it with: chiltepin endpoint allow ENDPOINT {name}"
                " (and the site file's allowed_functions names it)",
            )
        return found

    def forward(
        self,
        batch: list[tuple[Attempt, Finished]],
        allow_list: AllowList,
        executor: Callable[[Attempt], Executor],
        sent: Finished,
    ) -> None:
        """Submit each call's own function by its allowed id (no probe, no pre-flight:
        the endpoint runs nothing else); ``sent`` also hears of each SDK future's end."""
        for attempt, finished in batch:
            call = attempt.call
            try:
                function_id = self.function_id(allow_list, call.function)
                future = executor(attempt).submit_to_registered_function(
                    function_id, args=call.args, kwargs=call.kwargs
                )
            except Exception as err:
                finished(failed(err))
                continue
            attempt.handle = future
            with_record(future, self.site).add_done_callback(finished)
            future.add_done_callback(sent)


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
