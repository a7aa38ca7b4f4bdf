"""``chiltepin testing``: run the local Globus stand-in for offline tests and development.

The stand-in is NOT Globus: a small HTTP service on 127.0.0.1 plus a private RabbitMQ that
the real SDK and the real ``globus-compute-endpoint`` can talk to when the cloud cannot be
reached.  ``up`` starts it detached and prints the ``export`` lines that point the SDK and
the endpoint at it; ``down`` stops exactly the processes it recorded; ``serve`` is what
``up`` runs detached (the service in the foreground, until SIGTERM or SIGINT).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import click

from chiltepin.errors import ChiltepinError
from chiltepin.system import processes
from chiltepin.system.spawn import spawn_detached
from chiltepin.system.waiting import wait_until

BANNER = (
    "chiltepin LOCAL GLOBUS STAND-IN -- for offline tests and development only; this is NOT Globus."
)


def _default_state_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"chiltepin-standin-{os.getuid()}"


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
                                (--port N: another port; then also export the PYTHONPATH
                                it prints, which makes the SDK and endpoint follow it)
    chiltepin testing status    is it running; endpoints, tasks
    chiltepin testing down      stop it (by the PIDs it recorded)
    chiltepin testing serve     run it in the foreground (what `up` starts detached)
    """


@command.command("up")
@click.option(
    "--port",
    type=int,
    default=5000,
    show_default=True,
    help="HTTP port. The SDK's and endpoint's `local` environment means 5000; on another"
    " port they follow it only with the PYTHONPATH line printed.",
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
    if current and current.get("ready") and processes.alive(int(current["pid"])):
        raise ChiltepinError(
            f"a stand-in is already running from {state_dir} (pid {current['pid']},"
            f" {current.get('url')}); run `chiltepin testing down --state-dir {state_dir}`"
        )
    (state_dir / "standin.json").unlink(missing_ok=True)
    from chiltepin.testing.transport import check_port_free

    check_port_free("127.0.0.1", port)
    cmd = [
        sys.executable,
        "-m",
        "chiltepin",
        "testing",
        "serve",
        "--port",
        str(port),
        "--state-dir",
        str(state_dir),
    ]
    if rabbitmq_url:
        cmd += ["--rabbitmq-url", rabbitmq_url]
    log_path = state_dir / "standin.log"
    standin = spawn_detached(cmd, log_path)

    def written() -> dict[str, Any] | None:
        info = _read_state(state_dir)
        return info if info is not None and info.get("pid") == standin.pid else None

    wait_until(lambda: written() or standin.exit_code() is not None, timeout, interval=0.2)
    info = written()
    if not info or not info.get("ready"):
        processes.terminate(processes.group_members([standin.pid]), timeout=30)
        standin.exit_code()  # reaps it
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
    if port != 5000:
        from chiltepin.upstream.compute_url import STARTUP_DIR

        click.echo(
            f'export PYTHONPATH={shlex.quote(str(STARTUP_DIR))}"${{PYTHONPATH:+:$PYTHONPATH}}"'
        )


@command.command("serve", hidden=True)
@click.option("--port", type=int, default=5000, show_default=True)
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--rabbitmq-url", default=None)
def serve(port: int, state_dir: Path, rabbitmq_url: str | None) -> None:
    """Run the stand-in in the foreground (what `up` starts detached) until SIGTERM or
    SIGINT, keeping STATE_DIR/standin.json up to date."""
    from chiltepin.testing.server import GlobusStandIn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    state_dir.mkdir(parents=True, exist_ok=True)
    state_file = state_dir / "standin.json"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    standin = GlobusStandIn(port, state_dir=state_dir, rabbitmq_url=rabbitmq_url)
    try:
        standin.start()
    except Exception as exc:
        state_file.write_text(json.dumps({"ready": False, "error": str(exc), "pid": os.getpid()}))
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    try:
        state_file.write_text(
            json.dumps(
                {
                    "ready": True,
                    "stand_in": True,
                    "pid": os.getpid(),
                    "pgid": os.getpgid(0),
                    "url": standin.url,
                    "amqp_url": standin.amqp_url,
                    "rabbitmq_pids": standin.rabbitmq.pids(),
                    "rabbitmq_dir": str(standin.rabbitmq.base_dir or ""),
                    "env": standin.client_env(),
                    "started_at": time.time(),
                },
                indent=2,
            )
        )
        while not stop.wait(0.5):
            pass
    finally:
        standin.stop()
        with contextlib.suppress(OSError):
            state_file.unlink()


@command.command("status")
@state_dir_option
def status(state_dir: Path | None) -> None:
    """Show whether the stand-in runs, and what it knows (endpoints, tasks)."""
    state_dir = state_dir or _default_state_dir()
    info = _read_state(state_dir)
    if not info or not info.get("ready") or not processes.alive(int(info["pid"])):
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


def _recorded(info: dict[str, Any]) -> set[int]:
    """Every process the state file accounts for: the service, its broker, and the members
    of their process groups (each was started as the leader of its own session)."""
    pids = {int(info["pid"]), *(int(p) for p in (info.get("rabbitmq_pids") or {}).values())}
    return pids | processes.group_members({*pids, int(info.get("pgid") or info["pid"])})


@command.command("down")
@state_dir_option
@click.option(
    "--timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for the service to stop by itself before its recorded PIDs are killed.",
)
def down(state_dir: Path | None, timeout: float) -> None:
    """Stop the stand-in and its broker (only the PIDs recorded in the state file)."""
    state_dir = state_dir or _default_state_dir()
    info = _read_state(state_dir)
    if not info or "pid" not in info:
        click.echo(f"stand-in: not running (no state in {state_dir})")
        return
    pid = int(info["pid"])
    # The service stops its broker itself on SIGTERM; only what outlives that is killed.
    processes.signal_pids([pid], signal.SIGTERM)
    processes.wait_gone([pid], timeout)
    leftovers = processes.leftovers(_recorded(info))
    if leftovers:
        click.echo(f"stand-in: forcing stop of {leftovers}", err=True)
        survivors = processes.kill_now(leftovers)
        if survivors:
            raise ChiltepinError(f"could not stop the stand-in's PIDs {sorted(survivors)}")
    (state_dir / "standin.json").unlink(missing_ok=True)
    from chiltepin.testing.environment import unset_lines

    click.echo("stand-in: stopped")
    if info.get("env"):
        click.echo(unset_lines(info["env"]))
