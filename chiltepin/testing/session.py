"""An offline Globus session: the stand-in running, and this process pointed at it.

Everything that talks to "Globus" offline (the pytest fixtures, the benchmarks, a developer
at a prompt) needs the same three things: the stand-in and its RabbitMQ started, the SDK's
and endpoint's environment variables pointing at it, and ``HOME`` /
``GLOBUS_COMPUTE_USER_DIR`` moved to a scratch directory so user endpoints and tokens never
land in the real home. This is that, once.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chiltepin.system.waiting import wait_until
from chiltepin.testing.environment import applied
from chiltepin.testing.rabbitmq import free_port
from chiltepin.testing.server import GlobusStandIn, StandInError
from chiltepin.upstream import compute_url


def stop_result_watchers() -> None:
    """Shut down the SDK's AMQP result-watcher threads.

    ``Executor.shutdown`` leaves them connected until interpreter exit; if the broker goes
    first they spin on reconnect attempts (and warnings) for up to a minute. A process that
    never loaded the SDK's executor has none, and is spared importing the SDK here.
    """
    if "globus_compute_sdk.sdk.executor" not in sys.modules:
        return
    from chiltepin.upstream.sdk import stop_all_result_watchers

    stop_all_result_watchers()


#: How long to wait for the stand-in's port when another session holds it (seconds).
PORT_WAIT_ENV = "CHILTEPIN_STANDIN_PORT_WAIT_S"
DEFAULT_PORT_WAIT_S = 240.0


def _port_taken(error: BaseException) -> bool:
    if isinstance(error, StandInError):
        return " is in use by " in str(error)
    return isinstance(error, OSError) and error.errno == errno.EADDRINUSE


def start_when_port_free(standin: GlobusStandIn, wait_s: float | None = None) -> GlobusStandIn:
    """``standin.start()``, waiting while another session holds its port.

    For a stand-in on a fixed port (5000, what the ``local`` environment means without
    ``CHILTEPIN_COMPUTE_URL``): this waits up to ``wait_s`` seconds (default
    ``$CHILTEPIN_STANDIN_PORT_WAIT_S``, else 240) for the port, then fails with the
    stand-in's message naming the process that holds it.
    """
    if wait_s is None:
        wait_s = float(os.environ.get(PORT_WAIT_ENV, DEFAULT_PORT_WAIT_S))
    taken: BaseException | None = None  # the last "port in use" error, raised at the end

    def started() -> GlobusStandIn | None:
        nonlocal taken
        try:
            return standin.start()
        except (StandInError, OSError) as err:
            if not _port_taken(err):
                raise
            if taken is None:
                print(f"[chiltepin stand-in] {err}; waiting up to {wait_s:.0f} s", file=sys.stderr)
            taken = err
            return None

    result = wait_until(started, wait_s, interval=2.0)
    if result is None:
        assert taken is not None  # started() returns None only after recording the error
        raise taken
    return result


FREE_PORT_TRIES = 5


def start_on_a_free_port(standin: GlobusStandIn) -> GlobusStandIn:
    """``standin.start()`` on a port the kernel says is free, trying another should a
    process take it between the pick and the bind."""
    for attempt in range(1, FREE_PORT_TRIES + 1):
        standin.port = free_port()
        try:
            return standin.start()
        except (StandInError, OSError) as err:
            if not _port_taken(err) or attempt == FREE_PORT_TRIES:
                raise
    raise AssertionError("unreachable")


@contextmanager
def offline_session(
    base: Path,
    *,
    port: int | None = None,
    port_wait_s: float | None = None,
    **standin_options: Any,
) -> Iterator[GlobusStandIn]:
    """Start the stand-in under ``base`` and apply its environment until the block ends.

    ``port``: ``None`` (the default) picks a free one, so sessions on one machine run side
    by side; this process and every Python process started under the block reach it
    through ``CHILTEPIN_COMPUTE_URL`` (``PYTHONPATH`` then begins with
    ``chiltepin.upstream.compute_url.STARTUP_DIR``). A fixed port that another session
    holds is waited for (see :func:`start_when_port_free`).
    """
    home = base / "home"
    user_dir = home / ".globus_compute"
    user_dir.mkdir(parents=True, exist_ok=True)
    standin = GlobusStandIn(state_dir=base / "service", **standin_options)
    if port is None:
        start_on_a_free_port(standin)
    else:
        standin.port = port
        start_when_port_free(standin, port_wait_s)
    standin.home = home
    standin.user_dir = user_dir
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "/usr/bin:/bin")
    env = {
        **standin.client_env(),
        "HOME": str(home),
        "GLOBUS_COMPUTE_USER_DIR": str(user_dir),
        "PATH": path if path.startswith(bindir + ":") else f"{bindir}:{path}",
        "PYTHONPATH": compute_url.pythonpath(os.environ.get("PYTHONPATH")),
    }
    compute_url.follow_environment()
    try:
        with applied(env):
            yield standin
            stop_result_watchers()
    finally:
        standin.stop()
