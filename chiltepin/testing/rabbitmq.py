"""A private RabbitMQ broker on loopback for the Globus stand-in.

The real Globus Compute service hands endpoints and the SDK AMQP URLs; the stand-in needs a
real broker behind those URLs so that the real endpoint and the real SDK result watcher run
unmodified.  This module starts the Debian ``rabbitmq-server`` as a child of this process,
with everything private to one temporary directory (data, logs, Erlang cookie via ``HOME``)
and its own free ports (AMQP, epmd, Erlang distribution), so it never touches a system
broker or another test run on a shared machine.  It is stopped strictly by the PIDs and
process groups it recorded, never by name.

It can also wrap a broker that is already running (``RabbitMQ.external(url)``); then it
neither starts nor stops anything.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from chiltepin.errors import ChiltepinError
from chiltepin.system import processes
from chiltepin.system.spawn import Spawned, spawn_detached
from chiltepin.system.waiting import wait_until

RABBITMQ_BIN_DIR = Path("/usr/lib/rabbitmq/bin")
"""Where Debian installs the real scripts (``/usr/sbin`` has wrappers that ``su rabbitmq``)."""


class RabbitMQError(ChiltepinError):
    """The broker could not be found, started or reached."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def rabbitmq_installed() -> str | None:
    """Return ``None`` when the Debian broker and ``epmd`` are installed, else what is missing."""
    missing = []
    if not (RABBITMQ_BIN_DIR / "rabbitmq-server").exists():
        missing.append(f"{RABBITMQ_BIN_DIR}/rabbitmq-server (apt-get install rabbitmq-server)")
    if not shutil.which("epmd"):
        missing.append("epmd (part of erlang-base, pulled in by rabbitmq-server)")
    return "; ".join(missing) or None


class RabbitMQ:
    """One RabbitMQ broker: started here on free loopback ports, or an existing one by URL.

    >>> with RabbitMQ() as mq:            # doctest: +SKIP
    ...     print(mq.url)                  # amqp://guest:guest@127.0.0.1:41234/
    """

    def __init__(
        self,
        base_dir: str | Path | None = None,
        *,
        startup_timeout: float = 90.0,
    ) -> None:
        self._own_dir = base_dir is None
        self.base_dir = Path(base_dir) if base_dir else None
        self.startup_timeout = startup_timeout
        self.host = "127.0.0.1"
        self.port = 0
        self.epmd_port = 0
        self.dist_port = 0
        self.nodename = ""
        self._server: Spawned | None = None
        self._epmd: Spawned | None = None
        self._external_url: str | None = None

    # -- construction -----------------------------------------------------------------
    @classmethod
    def external(cls, url: str) -> RabbitMQ:
        """Wrap a broker that is already running; ``start``/``stop`` do nothing to it."""
        parsed = urlparse(url)
        if parsed.scheme not in ("amqp", "amqps"):
            raise RabbitMQError(f"broker URL must start with amqp:// or amqps://, got {url!r}")
        mq = cls()
        mq._external_url = url
        mq.host = parsed.hostname or "127.0.0.1"
        mq.port = parsed.port or 5672
        return mq

    @property
    def server_pid(self) -> int | None:
        """The broker's PID while this object has started one."""
        return None if self._server is None else self._server.pid

    @property
    def epmd_pid(self) -> int | None:
        """Our epmd's PID while this object has started one."""
        return None if self._epmd is None else self._epmd.pid

    @property
    def is_external(self) -> bool:
        return self._external_url is not None

    @property
    def url(self) -> str:
        """The AMQP URL clients use (guest is allowed because we only listen on loopback)."""
        if self._external_url:
            return self._external_url
        return f"amqp://guest:guest@{self.host}:{self.port}/"

    # -- lifecycle --------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        assert self.base_dir is not None
        base = self.base_dir
        env = dict(os.environ)
        env.update(
            HOME=str(base),  # the Erlang cookie lives in $HOME/.erlang.cookie
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS=self.host,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS=self.host,
            RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
            RABBITMQ_LOG_BASE=str(base / "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(base / "rabbitmq"),
            RABBITMQ_CONF_ENV_FILE=str(base / "rabbitmq-env.conf"),
            RABBITMQ_PID_FILE=str(base / "rabbitmq.pid"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env

    def start(self) -> RabbitMQ:
        """Start epmd and the broker on free ports and wait until AMQP accepts a login."""
        if self.is_external:
            self._wait_ready(self.startup_timeout)
            return self
        missing = rabbitmq_installed()
        if missing:
            raise RabbitMQError(f"RabbitMQ is not installed: missing {missing}")
        if self.base_dir is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="chiltepin-rabbitmq-"))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        (self.base_dir / "enabled_plugins").write_text("[].\n")
        (self.base_dir / "rabbitmq-env.conf").write_text("")
        self.port, self.epmd_port, self.dist_port = free_port(), free_port(), free_port()
        (self.base_dir / "rabbitmq.conf").write_text(
            "# chiltepin stand-in broker: loopback only, private to this test run\n"
            f"listeners.tcp.1 = {self.host}:{self.port}\n"
            "disk_free_limit.absolute = 10MB\n"
            "log.console = false\n"
        )
        self.nodename = f"chiltepin-{os.getpid()}-{uuid.uuid4().hex[:8]}@localhost"
        env = self._env()
        log = self.base_dir / "server.out"
        try:
            # Our own epmd, in the foreground, so that we know its PID; the node finds it
            # through ERL_EPMD_PORT and does not daemonize another one.
            self._epmd = spawn_detached(
                ["epmd", "-port", str(self.epmd_port), "-address", self.host], log, env=env
            )
            self._wait_port(self.epmd_port, 10, "epmd")
            # its pgid == its pid (a session of its own): the beam VM stays in that group
            self._server = spawn_detached(
                [str(RABBITMQ_BIN_DIR / "rabbitmq-server")], log, env=env, cwd=self.base_dir
            )
            self._wait_ready(self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_port(self, port: int, timeout: float, what: str) -> None:
        def listening() -> bool:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                return sock.connect_ex((self.host, port)) == 0

        if not wait_until(listening, timeout, interval=0.05):
            raise RabbitMQError(f"{what} did not listen on {self.host}:{port} in time")

    def _wait_ready(self, timeout: float) -> None:
        import pika

        params = pika.URLParameters(self.url)
        params.connection_attempts = 1
        params.socket_timeout = 2
        # refused connections while the node boots are expected: keep pika quiet meanwhile
        pika_log = logging.getLogger("pika")
        level = pika_log.level
        pika_log.setLevel(logging.CRITICAL)
        try:
            self._poll_ready(params, timeout)
        finally:
            pika_log.setLevel(level)

    def _poll_ready(self, params: Any, timeout: float) -> None:
        import pika

        last: Exception | None = None

        def accepts_login() -> bool:
            nonlocal last
            if self._server is not None and (code := self._server.exit_code()) is not None:
                raise RabbitMQError(
                    f"rabbitmq-server exited with {code} during start;"
                    f" see {self.base_dir}/server.out and {self.base_dir}/log/\n" + self._tail()
                )
            try:
                pika.BlockingConnection(params).close()
            except Exception as exc:
                last = exc
                return False
            return True

        if not wait_until(accepts_login, timeout, interval=0.2):
            raise RabbitMQError(
                f"RabbitMQ at {self.host}:{self.port} not ready after {timeout:.0f} s"
                f" ({type(last).__name__}: {last})\n" + self._tail()
            )

    def _tail(self, lines: int = 20) -> str:
        if not self.base_dir:
            return ""
        out = self.base_dir / "server.out"
        try:
            return "\n".join(out.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the broker (``rabbitmqctl stop``, then its process group) and our epmd."""
        if self.is_external:
            return
        if self._server is not None:
            survivors: set[int] = set()
            if self._server.record.alive():
                with contextlib.suppress(Exception):
                    subprocess.run(
                        [str(RABBITMQ_BIN_DIR / "rabbitmqctl"), "-n", self.nodename, "stop"],
                        env=self._env(),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        timeout=timeout,
                        check=False,
                    )
                survivors = processes.wait_gone([self._server.pid], timeout)
            # the server if it ignored the graceful stop, and anything the VM left in its own
            # process group (the server leads it: started in its own session)
            processes.terminate(survivors | processes.group_members([self._server.pid]), 5)
        if self._epmd is not None and self._epmd.record.alive():
            processes.terminate([self._epmd.pid], 5)
        for spawned in (self._server, self._epmd):
            if spawned is not None:
                with contextlib.suppress(Exception):
                    spawned.popen.wait(timeout=1)

    def _ctl(self, *args: str, timeout: float = 30.0) -> None:
        if self.is_external or self._server is None or not self._server.record.alive():
            raise RabbitMQError("only a broker this object started and that runs can be controlled")
        result = subprocess.run(
            [str(RABBITMQ_BIN_DIR / "rabbitmqctl"), "-n", self.nodename, *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RabbitMQError(
                f"rabbitmqctl {' '.join(args)} failed ({result.returncode}):"
                f" {result.stderr.strip() or result.stdout.strip()}"
            )

    def suspend(self) -> None:
        """Make the broker unavailable, as a broker failover or a network blip does.

        New connections are refused (``suspend_listeners``) and every open one is closed
        (``close_all_connections``); queues and the messages in them stay. :meth:`resume`
        accepts connections again; clients must reconnect by themselves.
        """
        self._ctl("suspend_listeners")
        self._ctl("close_all_connections", "--global", "chiltepin stand-in: broker outage")

    def resume(self) -> None:
        """Accept client connections again after :meth:`suspend`."""
        self._ctl("resume_listeners")

    def pids(self) -> dict[str, int]:
        """The processes this object started (for state files and leak checks)."""
        out: dict[str, int] = {}
        if self.server_pid:
            out["rabbitmq_server"] = self.server_pid
        if self.epmd_pid:
            out["epmd"] = self.epmd_pid
        return out

    def cleanup_dir(self) -> None:
        """Remove the data directory if this object created it."""
        if self._own_dir and self.base_dir and self.base_dir.exists():
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> RabbitMQ:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
        self.cleanup_dir()
