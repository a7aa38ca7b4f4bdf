"""Which container engine runs chiltepin's images here: Docker Engine, else podman.

Docker Engine with compose v2 is what most users have; machines without it (HPC login
nodes, CI sandboxes) get podman and podman-compose from their distribution. Both speak the
same ``build``/``run``/``exec`` dialect and read the same compose file, so everything above
this module only asks for "the engine" and its compose command.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal

from chiltepin.errors import ChiltepinError

Runtime = Literal["docker", "podman"]

INSTALL_HINT = (
    "install Docker Engine with compose v2, or podman: `./dev setup` (Debian) runs "
    "docker/setup-podman.sh, which installs podman, podman-compose and the debian:12 base image"
)


class NoContainerEngine(ChiltepinError):
    """Neither a running Docker Engine with compose v2 nor podman with podman-compose."""


@dataclass(frozen=True)
class ContainerEngine:
    """A container CLI (``docker`` or ``podman``) and the compose command that goes with it."""

    runtime: Runtime
    compose: tuple[str, ...]

    def run(self, *args: str, check: bool = True, timeout: float | None = None) -> str:
        """Run ``RUNTIME ARGS...`` and return its stdout; a failure names the command."""
        return _run((self.runtime, *args), check=check, timeout=timeout)

    def image_exists(self, tag: str) -> bool:
        if self.runtime == "podman":
            return _ok(("podman", "image", "exists", tag))
        return _ok(("docker", "image", "inspect", tag))


def _ok(cmd: tuple[str, ...]) -> bool:
    return subprocess.run(cmd, capture_output=True, check=False, timeout=60).returncode == 0


def _run(cmd: tuple[str, ...], *, check: bool = True, timeout: float | None = None) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-20:]
        command = " ".join(cmd)
        raise ChiltepinError(f"`{command}` failed ({result.returncode}):\n" + "\n".join(detail))
    return result.stdout


def docker_engine() -> ContainerEngine | None:
    """Docker Engine, when its daemon answers and compose v2 is installed."""
    if shutil.which("docker") is None:
        return None
    if not _ok(("docker", "info")) or not _ok(("docker", "compose", "version")):
        return None
    return ContainerEngine("docker", ("docker", "compose"))


def podman_engine() -> ContainerEngine | None:
    """podman with podman-compose."""
    if shutil.which("podman") is None or shutil.which("podman-compose") is None:
        return None
    return ContainerEngine("podman", ("podman-compose",))


def container_engine(runtime: Runtime | None = None) -> ContainerEngine:
    """The engine to use: ``runtime`` if given, else Docker Engine where it runs, else podman."""
    candidates = {"docker": docker_engine, "podman": podman_engine}
    order = [runtime] if runtime else ["docker", "podman"]
    for name in order:
        engine = candidates[name]()
        if engine is not None:
            return engine
    wanted = runtime or "Docker Engine (running, with compose v2) or podman + podman-compose"
    raise NoContainerEngine(f"no container engine found: wanted {wanted}; {INSTALL_HINT}")
