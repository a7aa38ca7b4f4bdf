"""chiltepin: federated scientific workflows on Globus Compute.

Two halves (see docs/architecture.md): the endpoint side turns an HPC system into a Parsl-backed
Globus Compute endpoint from a declarative site file; the client side fans tasks out
across such sites (:class:`Federation`).
"""

from __future__ import annotations

from typing import Any

from chiltepin.errors import ChiltepinError, ConfigError

__version__ = "0.1.0"

__all__ = [
    "ChiltepinError",
    "ConfigError",
    "Federation",
    "SitePath",
    "Workflow",
    "__version__",
    "bash_task",
    "mpi_task",
    "python_task",
]
_LAZY = {
    "Federation": "chiltepin.federation",
    "SitePath": "chiltepin.federation",
    "Workflow": "chiltepin.workflow",
    "python_task": "chiltepin.workflow",
    "bash_task": "chiltepin.workflow",
    "mpi_task": "chiltepin.workflow",
}


def __getattr__(name: str) -> Any:
    # The client side imports the Globus SDK and Parsl: load it on first use so the CLI
    # and the endpoint side start quickly.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'chiltepin' has no attribute {name!r}")
