"""The compose Slurm cluster (``docker/docker-compose.yml``) brought up for real.

Docker Engine with compose v2 where it runs, else podman with podman-compose (see
:mod:`chiltepin.cluster.engine`). The image is built once per content hash
(:mod:`chiltepin.cluster.images`) and handed to the compose file as ``$CHILTEPIN_IMAGE``, so
compose itself never builds or pulls. ``up`` returns once ``sinfo`` in the login container
shows every compute node idle; ``down`` removes the containers, the network and the volumes.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from chiltepin.cluster.docker import DOCKER_NODES
from chiltepin.cluster.engine import ContainerEngine, container_engine
from chiltepin.cluster.images import IMAGE_NAME, ImageBuild, ensure_image
from chiltepin.errors import ChiltepinError
from chiltepin.paths import data_dir
from chiltepin.system.waiting import wait_until

PROJECT = "chiltepin"
"""The compose project of ``chiltepin cluster compose`` (tests name one of their own)."""
SERVICES = ("slurmctld", *DOCKER_NODES, "login")
_PROJECT_LABEL = "com.docker.compose.project"
_SERVICE_LABEL = "com.docker.compose.service"


@dataclass(frozen=True)
class UpResult:
    """How ``up`` went: the image (built or reused) and the seconds until nodes were idle."""

    image: ImageBuild
    seconds: float


@dataclass
class ComposeStatus:
    """Containers of the project (service → state) and, when login answers, node states."""

    containers: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return all(self.containers.get(s) == "running" for s in SERVICES) and self.idle

    @property
    def idle(self) -> bool:
        return all(self.nodes.get(n, "").startswith("idle") for n in DOCKER_NODES)


def unique_project() -> str:
    """A compose project name no other run on this machine uses (its containers, network
    and volumes carry it), so two test sessions' clusters never meet."""
    return f"{PROJECT}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class ComposeCluster:
    """The compose cluster of this machine's container engine, as compose project
    ``project`` (every container, network and volume it makes is labelled with it)."""

    def __init__(self, engine: ContainerEngine | None = None, *, project: str = PROJECT) -> None:
        self.engine = engine or container_engine()
        self.project = project
        self.compose_file = data_dir("docker") / "docker-compose.yml"

    def _compose(self, *args: str, image: str, timeout: float = 600) -> None:
        cmd = [*self.engine.compose, "-p", self.project, "-f", str(self.compose_file), *args]
        env = {**os.environ, "CHILTEPIN_IMAGE": image}
        result = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
        if result.returncode != 0:
            tail = (result.stderr + result.stdout).strip().splitlines()[-20:]
            raise ChiltepinError(f"`{' '.join(cmd)}` failed:\n" + "\n".join(tail))

    def container(self, service: str) -> str | None:
        """The id of ``service``'s container, found by compose's labels (either engine)."""
        out = self.engine.run(
            "ps", "-aq",
            "--filter", f"label={_PROJECT_LABEL}={self.project}",
            "--filter", f"label={_SERVICE_LABEL}={service}",
        )  # fmt: skip
        ids = out.split()
        return ids[0] if ids else None

    def exec(
        self,
        service: str,
        *command: str,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in ``service``'s container (``docker/podman exec``)."""
        container = self.container(service)
        if container is None:
            raise ChiltepinError(f"compose service {service!r} has no container; run `up` first")
        args = [self.engine.runtime, "exec"]
        if user:
            args += ["-u", user]
        for name, value in (env or {}).items():
            args += ["-e", f"{name}={value}"]
        return subprocess.run(
            [*args, container, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def pid(self, service: str) -> int:
        """Host PID of ``service``'s init process (its network namespace is /proc/PID/ns/net)."""
        container = self.container(service)
        if container is None:
            raise ChiltepinError(f"compose service {service!r} has no container")
        return int(self.engine.run("inspect", "-f", "{{.State.Pid}}", container).strip())

    def node_states(self) -> dict[str, str]:
        """``sinfo`` as the login container sees it: node → state (empty when it cannot say)."""
        if self.container("login") is None:
            return {}
        try:
            result = self.exec("login", "sinfo", "-h", "-N", "-o", "%N %t", timeout=30)
        except subprocess.TimeoutExpired:
            return {}
        if result.returncode != 0:
            return {}
        return dict(line.split() for line in result.stdout.splitlines() if len(line.split()) == 2)

    def status(self) -> ComposeStatus:
        states = {}
        for service in SERVICES:
            container = self.container(service)
            if container is not None:
                states[service] = self.engine.run(
                    "inspect", "-f", "{{.State.Status}}", container
                ).strip()
        nodes = self.node_states() if states.get("login") == "running" else {}
        return ComposeStatus(containers=states, nodes=nodes)

    def up(self, timeout: float = 300) -> UpResult:
        """Build (or reuse) the image, start every service, wait until c1..c3 are idle."""
        started = time.monotonic()
        image = ensure_image(self.engine)
        self._compose("up", "-d", image=image.ref)
        wait_until(
            lambda: self.status().idle,
            timeout,
            interval=1.0,
            what=f"compose cluster nodes {', '.join(DOCKER_NODES)} idle in sinfo",
        )
        return UpResult(image=image, seconds=time.monotonic() - started)

    def down(self) -> None:
        """Remove the project's containers, network and volumes (nothing else).

        podman-compose 1.0 leaves the network behind: whatever still carries the project's
        compose label is removed by name afterwards.
        """
        self._compose("down", "-v", image=f"{IMAGE_NAME}:latest")
        for kind in ("network", "volume"):
            for name in self._labelled(kind):
                self.engine.run(kind, "rm", name)
        left = [s for s in SERVICES if self.container(s) is not None]
        left += self._labelled("network") + self._labelled("volume")
        if left:
            raise ChiltepinError(f"compose down left behind: {', '.join(left)}")

    def _labelled(self, kind: str) -> list[str]:
        """Names of the project's networks or volumes (by compose's project label)."""
        label = f"label={_PROJECT_LABEL}={self.project}"
        return self.engine.run(kind, "ls", "-q", "--filter", label).split()
