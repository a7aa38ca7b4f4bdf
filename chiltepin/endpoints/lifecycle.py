"""Drive a configured endpoint through ``globus-compute-endpoint``'s public CLI.

chiltepin adds what the bare CLI lacks for people and pipelines: checks with clear
messages before anything starts (not configured, already running, not logged in), a
detached start in a session of its own that waits until the endpoint is really up,
a stop that verifies every process the endpoint started is gone (user endpoints,
interchanges, workers) and stops stragglers by PID, and machine-readable status.
The endpoint's on-disk files (``daemon.pid``, ``endpoint.json``) are read, never written.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from chiltepin import auth
from chiltepin.endpoints.render import SITE_RECORD
from chiltepin.errors import ChiltepinError
from chiltepin.system import processes
from chiltepin.system.spawn import spawn_detached
from chiltepin.system.waiting import wait_until
from chiltepin.upstream.endpoint_dir import daemon_pid, registered_endpoint_id
from chiltepin.upstream.sdk import token_storage_file

START_LOG = "chiltepin-start.log"


def endpoint_cli() -> str:
    """The ``globus-compute-endpoint`` of this Python environment."""
    return str(Path(sys.executable).parent / "globus-compute-endpoint")


@dataclass(frozen=True)
class EndpointStatus:
    """What is known locally about one endpoint directory."""

    name: str
    directory: str
    configured: bool
    running: bool
    pid: int | None
    endpoint_id: str | None
    site: str | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _live_pid(directory: Path) -> int | None:
    pid = daemon_pid(directory)
    return pid if pid is not None and processes.alive(pid) else None


def status(root: Path, name: str) -> EndpointStatus:
    directory = root / name
    site = None
    endpoint_id = registered_endpoint_id(directory)
    with contextlib.suppress(OSError, ValueError, KeyError):
        site = json.loads((directory / SITE_RECORD).read_text())["site"]["name"]
    pid = _live_pid(directory)
    return EndpointStatus(
        name=name,
        directory=str(directory),
        configured=(directory / "config.yaml").is_file(),
        running=pid is not None,
        pid=pid,
        endpoint_id=endpoint_id,
        site=site,
    )


def list_endpoints(root: Path) -> list[EndpointStatus]:
    if not root.is_dir():
        return []
    return [
        status(root, entry.name)
        for entry in sorted(root.iterdir())
        if entry.is_dir() and not entry.name.startswith(".") and (entry / "config.yaml").is_file()
    ]


def _require_configured(root: Path, name: str) -> EndpointStatus:
    current = status(root, name)
    if not current.configured:
        raise ChiltepinError(
            f"endpoint {name!r} is not configured in {root};"
            f" run: chiltepin endpoint configure {name} --site SITE"
        )
    return current


def _require_login(root: Path) -> None:
    if auth.uses_client_credentials() or token_storage_file(root).is_file():
        return
    raise ChiltepinError(
        "not logged in: run `chiltepin login` (people) or set GLOBUS_COMPUTE_CLIENT_ID and"
        " GLOBUS_COMPUTE_CLIENT_SECRET (CI, pipelines)"
    )


def _cli_env(root: Path, cli: str) -> dict[str, str]:
    env = dict(os.environ)
    env["GLOBUS_COMPUTE_USER_DIR"] = str(root)
    bindir = str(Path(cli).parent)
    env["PATH"] = os.pathsep.join([bindir, env.get("PATH", "")])
    return env


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start(
    root: Path, name: str, *, timeout: float = 90.0, cli: str | None = None
) -> EndpointStatus:
    """Start endpoint ``name`` detached and wait until its daemon is running.

    ``cli``: the ``globus-compute-endpoint`` to run (default: this environment's). A
    multi-user endpoint forks each user endpoint from its own interpreter before it execs,
    so it must run from an environment the mapped accounts can read."""
    cli = cli or endpoint_cli()
    current = _require_configured(root, name)
    if current.running:
        raise ChiltepinError(
            f"endpoint {name!r} is already running (pid {current.pid});"
            f" use `chiltepin endpoint restart {name}`"
        )
    _require_login(root)
    directory = root / name
    log_path = directory / START_LOG
    # A session of its own: the endpoint signals its whole process group on stop,
    # which must never include the caller.
    launcher = spawn_detached(
        [cli, "start", name], log_path, env=_cli_env(root, cli), cwd=directory, append=False
    )
    # Without a terminal the endpoint may not detach, staying a child of this process:
    # reap it when it exits, or a long-lived caller (a test session, a pipeline) keeps a
    # zombie that `globus-compute-endpoint stop` counts as alive.
    launcher.reap_when_done(f"reap-{name}")

    def up() -> EndpointStatus | None:
        current = status(root, name)
        if current.running and current.endpoint_id:
            return current
        if (code := launcher.exit_code()) not in (None, 0):
            raise ChiltepinError(
                f"endpoint {name!r} failed to start (exit {code}):\n" + _log_tail(log_path)
            )
        return None

    started = wait_until(up, timeout, interval=0.2)
    if started is not None:
        return started
    raise ChiltepinError(
        f"endpoint {name!r} did not come up within {timeout:.0f} s; its log ends:\n"
        + _log_tail(log_path)
    )


def stop(root: Path, name: str, *, timeout: float = 60.0) -> list[int]:
    """Stop endpoint ``name``; return PIDs that had to be stopped after the endpoint's own
    shutdown left them behind (empty when it cleaned up after itself)."""
    current = _require_configured(root, name)
    if not current.running or current.pid is None:
        return []
    # Start times identify the processes for good: one that exits during the wait and
    # whose PID is reused is not signalled.
    starts = {pid: processes.started(pid) for pid in processes.tree([current.pid])}
    tree = {pid: start for pid, start in starts.items() if start is not None}
    subprocess.run(
        [endpoint_cli(), "stop", name],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=_cli_env(root, endpoint_cli()),
        timeout=timeout,
        check=False,
    )
    left = processes.wait_gone(tree, timeout)
    stragglers = {pid for pid in left if processes.alive(pid, tree[pid])}
    processes.terminate(stragglers, timeout=5)
    return sorted(stragglers)


def delete(root: Path, name: str) -> None:
    """Stop (if running) and delete endpoint ``name`` locally and from the service."""
    _require_configured(root, name)
    stop(root, name)
    result = subprocess.run(
        [endpoint_cli(), "delete", name, "--yes"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_cli_env(root, endpoint_cli()),
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise ChiltepinError(
            f"globus-compute-endpoint could not delete {name!r}:\n{result.stderr.strip()}"
        )
