"""Drive a real ``globus-compute-endpoint`` against the stand-in, and account for its processes.

Why a helper: starting the real endpoint offline needs several non-obvious pieces (found
the hard way, see the module docstring of ``environment``): ``local_compute_services: true``,
an ``email`` when running as root, our own user-endpoint template (the packaged one
downloads ``uv``), and a ``user_environment.yaml`` because a root endpoint clears the
environment of the user endpoints it forks (``HOME`` would become ``/root``).  Stopping
must leave nothing behind, so every PID, process group and session seen while the
endpoint ran is recorded and checked afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TEMPLATE = """\
# chiltepin stand-in test template: GlobusComputeEngine on this host (offline-safe)
display_name: {{ label|default('"standin-uep"') }}
heartbeat_period: {{ heartbeat_period|default(5) }}
idle_heartbeats_soft: {{ idle_heartbeats|default(0) }}
engine:
  type: GlobusComputeEngine
  max_workers_per_node: {{ workers|default(2) }}
  encrypted: false
  provider:
    type: LocalProvider
    init_blocks: 1
    min_blocks: 0
    max_blocks: 1
"""

DEFAULT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "label": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,40}$"},
        "workers": {"type": "integer", "minimum": 1, "maximum": 4},
        "heartbeat_period": {"type": "integer", "minimum": 5, "maximum": 60},
        "idle_heartbeats": {"type": "integer", "minimum": 0, "maximum": 100},
    },
    "additionalProperties": False,
}


def _descendants(pid: int) -> list[int]:
    """All live descendants of ``pid`` (via /proc children lists)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                for k in kids:
                    out.append(int(k))
                    todo.append(int(k))
    return out


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, pgid, sid) of a process, or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[2]), int(fields[3])


def live_processes_in(pgids: set[int], sids: set[int]) -> list[str]:
    """Non-zombie processes whose group or session is one of ours (``pid: cmdline``)."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        st = _stat(int(proc.name))
        if st is None or st[0] in ("Z", "X"):
            continue
        if st[1] in pgids or st[2] in sids:
            with contextlib.suppress(OSError):
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                out.append(f"{proc.name}: {cmd}")
    return out


@dataclass
class LocalEndpoint:
    """A template-capable endpoint configured under ``user_dir`` and run against the stand-in."""

    name: str
    user_dir: Path
    home: Path
    env: dict[str, str]
    template: str = DEFAULT_TEMPLATE
    schema: dict[str, Any] | None = field(default_factory=lambda: dict(DEFAULT_SCHEMA))
    heartbeat_period: int = 5
    endpoint_id: str | None = None
    process: subprocess.Popen[bytes] | None = None
    seen_pids: set[int] = field(default_factory=set)
    seen_pgids: set[int] = field(default_factory=set)
    seen_sids: set[int] = field(default_factory=set)

    @property
    def ep_dir(self) -> Path:
        return self.user_dir / self.name

    def _proc_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        bindir = str(Path(sys.executable).parent)
        env["PATH"] = f"{bindir}:{env.get('PATH', '/usr/bin:/bin')}"
        env["HOME"] = str(self.home)
        env["GLOBUS_COMPUTE_USER_DIR"] = str(self.user_dir)
        return env

    def configure(self) -> LocalEndpoint:
        """Write config.yaml, the template, schema and user_environment.yaml."""
        self.ep_dir.mkdir(parents=True, exist_ok=True)
        config = {
            "display_name": f"chiltepin stand-in test endpoint {self.name}",
            "local_compute_services": True,
            "heartbeat_period": self.heartbeat_period,
            "email": "standin@chiltepin.invalid",  # required when running as root
        }
        (self.ep_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        (self.ep_dir / "user_config_template.yaml.j2").write_text(self.template)
        schema_path = self.ep_dir / "user_config_schema.json"
        if self.schema is not None:
            schema_path.write_text(json.dumps(self.schema, indent=2))
        else:
            schema_path.unlink(missing_ok=True)
        env = self._proc_env()
        user_env = {k: env[k] for k in self.env}
        user_env.update(
            HOME=str(self.home), PATH=env["PATH"], GLOBUS_COMPUTE_USER_DIR=str(self.user_dir)
        )
        if env.get("PYTHONPATH"):  # functions serialised by reference must import there too
            user_env["PYTHONPATH"] = env["PYTHONPATH"]
        (self.ep_dir / "user_environment.yaml").write_text(yaml.safe_dump(user_env))
        return self

    def start(self, log_path: Path | None = None) -> LocalEndpoint:
        """``globus-compute-endpoint start NAME`` in a new session; returns once registered."""
        log_path = log_path or (self.home / f"{self.name}.start.log")
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                ["globus-compute-endpoint", "start", self.name],
                env=self._proc_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.seen_pids.add(self.process.pid)
        self.seen_pgids.add(self.process.pid)
        self.seen_sids.add(self.process.pid)
        return self

    def wait_registered(self, timeout: float = 60) -> str:
        """Wait for ``endpoint.json`` (written after registration); return the endpoint id."""
        deadline = time.monotonic() + timeout
        ep_json = self.ep_dir / "endpoint.json"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"globus-compute-endpoint start {self.name} exited with"
                    f" {self.process.returncode}; see {self.ep_dir / 'endpoint.log'}"
                )
            with contextlib.suppress(OSError, ValueError, KeyError):
                self.endpoint_id = json.loads(ep_json.read_text())["endpoint_id"]
                return self.endpoint_id
            time.sleep(0.1)
        raise TimeoutError(f"endpoint {self.name} did not register within {timeout} s")

    def record_processes(self) -> list[int]:
        """Remember the endpoint's process tree now (user endpoints, engines, workers)."""
        if self.process is None:
            return []
        pids = _descendants(self.process.pid)
        for pid in [self.process.pid, *pids]:
            st = _stat(pid)
            if st is None:
                continue
            self.seen_pids.add(pid)
            self.seen_pgids.add(st[1])
            self.seen_sids.add(st[2])
        return pids

    def stop(self, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        """``globus-compute-endpoint stop NAME``; returns once our start process has exited.

        The endpoint process is our child: until we reap it, it lingers as a zombie that
        ``stop`` (psutil) still counts as alive, so we reap while ``stop`` waits -- else it
        reports a 10 s timeout although the endpoint had shut down cleanly.
        """
        self.record_processes()
        stopper = subprocess.Popen(
            ["globus-compute-endpoint", "stop", self.name],
            env=self._proc_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None:
                self.process.poll()
            if stopper.poll() is not None and (
                self.process is None or self.process.returncode is not None
            ):
                break
            time.sleep(0.05)
        try:
            out, err = stopper.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            stopper.kill()
            out, err = stopper.communicate()
        return subprocess.CompletedProcess(stopper.args, stopper.returncode, out, err)

    def leftovers(self) -> list[str]:
        """Processes still alive from any PID, process group or session we saw."""
        alive = []
        for pid in sorted(self.seen_pids):
            st = _stat(pid)
            if st is not None and st[0] not in ("Z", "X"):
                alive.append(pid)
        found = live_processes_in(self.seen_pgids, self.seen_sids)
        listed = {f.split(":", 1)[0] for f in found}
        found += [f"{pid}: (seen pid)" for pid in alive if str(pid) not in listed]
        return found

    def kill(self) -> None:
        """Last resort: SIGKILL every process group and seen PID we recorded."""
        for pgid in self.seen_pgids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        for pid in self.seen_pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            with contextlib.suppress(Exception):
                self.process.wait(5)
