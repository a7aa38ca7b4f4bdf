"""An offline Globus session: the stand-in running, and this process pointed at it.

Everything that talks to "Globus" offline (the pytest fixtures, the benchmarks, a developer
at a prompt) needs the same three things: the stand-in and its RabbitMQ started, the SDK's
and endpoint's environment variables pointing at it, and ``HOME`` /
``GLOBUS_COMPUTE_USER_DIR`` moved to a scratch directory so user endpoints and tokens never
land in the real home. This is that, once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chiltepin.testing.environment import applied
from chiltepin.testing.server import GlobusStandIn


def stop_result_watchers() -> None:
    """Shut down the SDK's AMQP result-watcher threads.

    ``Executor.shutdown`` leaves them connected until interpreter exit; if the broker goes
    first they spin on reconnect attempts (and warnings) for up to a minute.
    """
    module = sys.modules.get("globus_compute_sdk.sdk.executor")
    for watcher in list(getattr(module, "_RESULT_WATCHERS", {}).values()):
        try:
            watcher.shutdown(wait=True, cancel_futures=True)
        except Exception:
            continue
    if module is not None:
        module._RESULT_WATCHERS.clear()


@contextmanager
def offline_session(base: Path, **standin_options: Any) -> Iterator[GlobusStandIn]:
    """Start the stand-in under ``base`` and apply its environment until the block ends."""
    home = base / "home"
    user_dir = home / ".globus_compute"
    user_dir.mkdir(parents=True, exist_ok=True)
    standin = GlobusStandIn(state_dir=base / "service", **standin_options)
    standin.start()
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
