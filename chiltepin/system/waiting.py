"""One way to poll until something is true, or a deadline passes.

Every "start a daemon, then wait until it answers" and "stop it, then wait until it is
gone" in the package and its tests goes through :func:`wait_until`, so the deadline
arithmetic and the last check after the deadline are written once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar, overload

T = TypeVar("T")


@overload
def wait_until(
    condition: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = ...,
    what: str,
    clock: Callable[[], float] = ...,
    sleep: Callable[[float], object] = ...,
) -> T: ...


@overload
def wait_until(
    condition: Callable[[], T],
    timeout: float,
    *,
    interval: float = ...,
    what: None = ...,
    clock: Callable[[], float] = ...,
    sleep: Callable[[float], object] = ...,
) -> T: ...


def wait_until(
    condition: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 0.1,
    what: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> T | None:
    """Call ``condition`` every ``interval`` seconds until it returns something truthy.

    Returns that value. The last call always begins at or after the deadline, and only one
    does: a poll that was slow, or a sleep cut short, must not turn a success into a failure,
    and an expensive check (``squeue``, a start attempt) is not repeated for nothing. If that
    call is still falsy, :class:`TimeoutError` naming ``what`` is raised, or, with
    ``what=None``, the falsy value is returned so the caller can decide (for example:
    escalate to SIGKILL). ``clock`` and ``sleep`` are the time it runs by (tests pass a
    fake pair, so what they assert does not depend on how loaded the host is).
    """
    deadline = clock() + timeout
    while True:
        began = clock()
        value = condition()
        if value:
            return value
        if began >= deadline:
            break
        sleep(min(interval, max(0.0, deadline - clock())))
    if what is None:
        return value
    raise TimeoutError(f"{what}: not reached after {timeout:g} s")
