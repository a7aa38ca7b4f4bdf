"""Upstream failures recognised by name or message, where no type can be caught.

A task's failure comes back as text (``TaskExecutionFailed.remote_data``, a remote
traceback), so the machinery's own exceptions (Parsl's, the endpoint's) are known by their
class names. When the SDK's AMQP result watcher loses the broker for good, it fails every
future it watches with a plain ``RuntimeError`` ("SDK thread quit unexpectedly." or
"Unable to sustain channel ..."): the result is lost, not the task.
"""

from __future__ import annotations

__all__ = ["RESULT_WATCHER_DIED", "SYSTEM_EXCEPTIONS", "is_result_watcher_death"]

#: Exception classes Parsl and the endpoint raise (never user code) when the machinery
#: under a task fails, by name.
SYSTEM_EXCEPTIONS = frozenset(
    {
        "WorkerLost",
        "ManagerLost",
        "BadStateException",
        "ScalingFailed",
        "CouldNotExecuteUserTaskError",
        "ExecutorError",
    }
)

#: How the SDK's result-watcher failure messages start.
RESULT_WATCHER_DIED = ("SDK thread quit unexpectedly", "Unable to sustain channel")


def is_result_watcher_death(error: BaseException) -> bool:
    """Whether ``error`` is the SDK's result watcher giving up on the broker."""
    return isinstance(error, RuntimeError) and str(error).startswith(RESULT_WATCHER_DIED)
