"""chiltepin: federated scientific workflows on Globus Compute.

Two halves (see DESIGN.md): the endpoint side turns an HPC system into a Parsl-backed
Globus Compute endpoint from a declarative site file; the client side fans tasks out
across such sites.
"""

from chiltepin.errors import ChiltepinError, ConfigError

__version__ = "0.1.0"

__all__ = ["ChiltepinError", "ConfigError", "__version__"]
