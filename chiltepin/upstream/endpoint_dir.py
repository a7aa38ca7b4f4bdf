"""Files ``globus-compute-endpoint`` writes into an endpoint directory, read (never
written) to tell whether an endpoint runs and under which id.

The endpoint CLI only prints this, for people; its ``Endpoint`` class knows where the
files are. The pid file's body (a PID in text) is python-daemon's lock-file format.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from globus_compute_endpoint.endpoint.endpoint import Endpoint

__all__ = ["daemon_pid", "registered_endpoint_id"]


def daemon_pid(directory: Path) -> int | None:
    """The PID the endpoint's daemon recorded, ``None`` if there is none (not checked for
    being alive)."""
    try:
        return int(Endpoint.pid_path(directory).read_text().strip())
    except (OSError, ValueError):
        return None


def registered_endpoint_id(directory: Path) -> str | None:
    """The endpoint id the service assigned at its first start, ``None`` before it."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        return Endpoint.get_endpoint_id(directory)
    return None
