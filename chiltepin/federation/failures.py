"""Whose fault was it? Sorting task failures into the user's and the site's.

Only a site's failure is retried elsewhere: a lost worker or manager, a batch job killed
by walltime or a node failure, an endpoint that went away, a submission the service
refused for reasons other than the user's input. The user's own exception is never
retried; it reaches the caller once, with its remote traceback.
"""

from __future__ import annotations

import re
from concurrent.futures import CancelledError

import globus_sdk
import pika.exceptions
from globus_compute_sdk.errors import TaskExecutionFailed

from chiltepin.errors import ChiltepinError
from chiltepin.upstream.errors import SYSTEM_EXCEPTIONS, is_result_watcher_death

_FINAL_EXCEPTION = re.compile(r"^\s*(?:[\w.]+\.)?(?P<name>\w+)(?::|$)")


class SiteFailure(ChiltepinError):
    """A site could not run a task for reasons that are not the task's fault."""

    def __init__(self, site: str, reason: str) -> None:
        self.site = site
        self.reason = reason
        super().__init__(f"site {site!r}: {reason}")


class TaskLost(ChiltepinError):
    """A task could not be completed on any site within its retry budget."""


def final_exception_name(remote_traceback: str) -> str | None:
    """The class name on the last line of a remote traceback."""
    for line in reversed(remote_traceback.strip().splitlines()):
        if match := _FINAL_EXCEPTION.match(line):
            return match.group("name")
    return None


def is_site_failure(error: BaseException) -> bool:
    """True when ``error`` says the site, not the task, failed."""
    if isinstance(error, SiteFailure | CancelledError | ConnectionError | TimeoutError):
        return True
    if isinstance(error, TaskExecutionFailed):
        return final_exception_name(error.remote_data) in SYSTEM_EXCEPTIONS
    if isinstance(error, globus_sdk.GlobusAPIError):
        # 400/422: the service rejected the user's input (bad options); anything else
        # (429 after the SDK's own retries, 5xx, unknown endpoint) is the site's problem.
        return error.http_status not in (400, 422)
    if isinstance(error, globus_sdk.NetworkError | pika.exceptions.AMQPError):
        return True
    if is_result_watcher_death(error):
        return True  # the SDK's AMQP result watcher lost the broker: the result, not the task
    return type(error).__name__ in SYSTEM_EXCEPTIONS
