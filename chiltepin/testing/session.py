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
from chiltepin.testing.server import GlobusStandIn, StandInError


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

    The SDK's and endpoint's ``local`` environment hard-wire ``localhost:5000``, so test
    sessions on one machine take turns: this one waits up to ``wait_s`` seconds (default
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
    if result is None and taken is not None:
        raise taken
    return result


@contextmanager
def offline_session(
    base: Path, *, port_wait_s: float | None = None, **standin_options: Any
) -> Iterator[GlobusStandIn]:
    """Start the stand-in under ``base`` and apply its environment until the block ends.

    When another session holds the stand-in's port, wait for it (see
    :func:`start_when_port_free`).
    """
    home = base / "home"
    user_dir = home / ".globus_compute"
    user_dir.mkdir(parents=True, exist_ok=True)
    standin = GlobusStandIn(state_dir=base / "service", **standin_options)
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
    }
    try:
        with applied(env):
            yield standin
            stop_result_watchers()
    finally:
        standin.stop()
