"""A real endpoint configured from a chiltepin site and run against the stand-in.

The product path, end to end: ``chiltepin endpoint configure`` (``--local-services``),
``chiltepin endpoint start`` and ``stop``. Tests and benchmarks share it, so both exercise
exactly what users run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from chiltepin.endpoints import lifecycle
from chiltepin.endpoints.configure import configure_endpoint
from chiltepin.endpoints.render import EndpointRequest
from chiltepin.sites.loader import load_site
from chiltepin.system import processes
from chiltepin.system.waiting import wait_until
from chiltepin.testing.server import GlobusStandIn


@dataclass
class SiteEndpoint:
    """A started endpoint; ``seen`` accumulates its process tree for the leftover check."""

    name: str
    root: Path
    endpoint_id: str
    started_at: float
    seen: set[int] = field(default_factory=set)

    def remember_processes(self) -> None:
        """Record the endpoint's process tree now (user endpoints, interchanges)."""
        current = lifecycle.status(self.root, self.name)
        if current.pid is None:
            return
        self.seen |= processes.tree([current.pid])

    def leftovers(self) -> list[int]:
        """Recorded processes still alive (zombies do not count: they have exited)."""
        return processes.leftovers(self.seen)


def user_endpoint_environment(standin: GlobusStandIn, extra: Mapping[str, str]) -> dict[str, str]:
    """What user endpoints need offline: a root endpoint clears their environment, so the
    stand-in's client variables, HOME and PYTHONPATH (tasks defined in test modules) are
    passed explicitly."""
    env = {**standin.client_env(), **extra}
    for name in ("HOME", "PYTHONPATH", "GLOBUS_COMPUTE_USER_DIR"):
        if name in os.environ:
            env.setdefault(name, os.environ[name])
    return env


def start_site_endpoint(
    name: str,
    site: str,
    standin: GlobusStandIn,
    *,
    root: Path,
    overrides: tuple[str, ...] = (),
    environment: Mapping[str, str] | None = None,
) -> SiteEndpoint:
    request = EndpointRequest(
        endpoint_name=name,
        site=load_site(site, list(overrides)),
        site_ref=site,
        local_compute_services=True,
        contact_email="standin@chiltepin.invalid",
        environment=tuple(user_endpoint_environment(standin, environment or {}).items()),
    )
    configure_endpoint(request, root, force=True)
    started = time.monotonic()
    status = lifecycle.start(root, name)
    assert status.endpoint_id is not None
    standin.wait_for_endpoint(status.endpoint_id, timeout=60)
    return SiteEndpoint(name, root, status.endpoint_id, started)


def stop_site_endpoint(endpoint: SiteEndpoint) -> list[int]:
    """Stop it; return the PIDs of anything it started that is still alive afterwards."""
    endpoint.remember_processes()
    lifecycle.stop(endpoint.root, endpoint.name)
    wait_until(lambda: not endpoint.leftovers(), 30, interval=0.2)
    return endpoint.leftovers()


@contextmanager
def running_site_endpoint(
    name: str,
    site: str,
    standin: GlobusStandIn,
    *,
    root: Path,
    overrides: tuple[str, ...] = (),
    environment: Mapping[str, str] | None = None,
) -> Iterator[SiteEndpoint]:
    endpoint = start_site_endpoint(
        name, site, standin, root=root, overrides=overrides, environment=environment
    )
    try:
        yield endpoint
    finally:
        stop_site_endpoint(endpoint)
