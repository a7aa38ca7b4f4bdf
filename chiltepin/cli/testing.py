"""``chiltepin testing``: run the local Globus stand-in for offline tests and development.

The stand-in is NOT Globus: a small HTTP service on 127.0.0.1 plus a private RabbitMQ that
the real SDK and the real ``globus-compute-endpoint`` can talk to when the cloud cannot be
reached.  ``up`` starts it detached and prints the ``export`` lines that point the SDK and
the endpoint at it; ``down`` stops exactly the processes it recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from chiltepin.errors import ChiltepinError

BANNER = (
    "chiltepin LOCAL GLOBUS STAND-IN -- for offline tests and development only; this is NOT Globus."
)


def _default_state_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"chiltepin-standin-{os.getuid()}"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((state_dir / "standin.json").read_text())
    except (OSError, ValueError):
        return None


state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the stand-in keeps its state file, logs and broker data"
    " [default: $TMPDIR/chiltepin-standin-UID].",
)


@click.group("testing")
def command() -> None:
    """Local Globus stand-in for offline tests (NOT Globus).

    \b
    chiltepin testing up        start RabbitMQ + the stand-in on localhost:5000, detached
    chiltepin testing status    is it running; endpoints, tasks
    chiltepin testing down      stop it (by the PIDs it recorded)
    """


@command.command("up")
@click.option(
    "--port",
    type=int,
    default=5000,
    show_default=True,
    help="HTTP port; the endpoint's `local` environment only reaches 5000.",
)
@state_dir_option
@click.option(
    "--rabbitmq-url",
    default=None,
    help="Use this running broker (amqp://...) instead of starting one.",
)
@click.option(
    "--timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds to wait for the broker and service to be ready.",
)
def up(port: int, state_dir: Path | None, rabbitmq_url: str | None, timeout: float) -> None:
    """Start the stand-in detached and print the environment that points at it."""
    state_dir = state_dir or _default_state_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    current = _read_state(state_dir)
    if current and current.get("ready") and _alive(int(current["pid"])):
        raise ChiltepinError(
            f"a stand-in is already running from {state_dir} (pid {current['pid']},"
            f" {current.get('url')}); run `chiltepin testing down --state-dir {state_dir}`"
        )
    (state_dir / "standin.json").unlink(missing_ok=True)
    from chiltepin.testing.server import check_port_free

    check_port_free("127.0.0.1", port)
    cmd = [
        sys.executable,
        "-m",
        "chiltepin.testing.server",
        "--port",
        str(port),
        "--state-dir",
        str(state_dir),
    ]
    if rabbitmq_url:
        cmd += ["--rabbitmq-url", rabbitmq_url]
    log_path = state_dir / "standin.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    info = None
    while time.monotonic() < deadline:
        info = _read_state(state_dir)
        if info is not None and info.get("pid") == proc.pid:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    if not info or not info.get("ready"):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        reason = (info or {}).get("error") or "not ready in time"
        raise ChiltepinError(f"the stand-in did not start: {reason}\n{tail}")
    from chiltepin.testing.environment import export_lines

    click.secho(BANNER, fg="yellow", bold=True, err=True)
    click.echo(f"# stand-in {info['url']}  AMQP {info['amqp_url']}  (pid {info['pid']})", err=True)
    click.echo(
        f"# state: {state_dir}   stop with: chiltepin testing down --state-dir {state_dir}",
        err=True,
    )
    click.echo(
        "# paste these to point the Globus Compute SDK and endpoint at the stand-in:", err=True
    )
    click.echo(export_lines(info["env"]))


@command.command("status")
@state_dir_option
def status(state_dir: Path | None) -> None:
    """Show whether the stand-in runs, and what it knows (endpoints, tasks)."""
    state_dir = state_dir or _default_state_dir()
    info = _read_state(state_dir)
    if not info or not info.get("ready") or not _alive(int(info["pid"])):
        click.echo(f"stand-in: not running (state dir {state_dir})")
        sys.exit(3)
    import requests

    click.secho(BANNER, fg="yellow", err=True)
    click.echo(f"stand-in: running, pid {info['pid']}, {info['url']}, AMQP {info['amqp_url']}")
    try:
        doc = requests.get(f"{info['url']}/_standin/state", timeout=5).json()
    except Exception as exc:
        click.echo(f"  (not answering: {exc})")
        sys.exit(1)
    click.echo(f"  tasks: {doc['tasks'] or {}}   functions: {doc['functions']}")
    for ep in doc["endpoints"]:
        kind = "user endpoint" if ep["parent_id"] else "endpoint"
        age = ep["last_heartbeat_age_s"]
        seen = "never" if age is None else f"{age:.1f} s ago"
        click.echo(f"  {kind} {ep['endpoint_id']} {ep['name']}: last heartbeat {seen}")


def _kill_recorded(info: dict[str, Any]) -> None:
    """SIGKILL what the state file recorded, if it outlived a graceful stop."""
    pgid = int(info.get("pgid") or info["pid"])
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    for name, pid in (info.get("rabbitmq_pids") or {}).items():
        if _alive(int(pid)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if name == "rabbitmq_server":
                    os.killpg(int(pid), signal.SIGKILL)
                else:
                    os.kill(int(pid), signal.SIGKILL)


@command.command("down")
@state_dir_option
@click.option("--timeout", type=float, default=30.0, show_default=True)
def down(state_dir: Path | None, timeout: float) -> None:
    """Stop the stand-in and its broker (only the PIDs recorded in the state file)."""
    state_dir = state_dir or _default_state_dir()
    info = _read_state(state_dir)
    if not info or "pid" not in info:
        click.echo(f"stand-in: not running (no state in {state_dir})")
        return
    pid = int(info["pid"])
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    leftovers = [pid] if _alive(pid) else []
    leftovers += [int(p) for p in (info.get("rabbitmq_pids") or {}).values() if _alive(int(p))]
    if leftovers:
        click.echo(f"stand-in: forcing stop of {leftovers}", err=True)
        _kill_recorded(info)
    (state_dir / "standin.json").unlink(missing_ok=True)
    from chiltepin.testing.environment import unset_lines

    click.echo("stand-in: stopped")
    if info.get("env"):
        click.echo(unset_lines(info["env"]))
