"""An offline Globus session with endpoints of the ``localhost`` site, for benchmarks."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from chiltepin.client.limits import REQUESTS_PER_WINDOW, WINDOW_SECONDS
from chiltepin.testing.session import offline_session
from chiltepin.testing.site_endpoint import SiteEndpoint, running_site_endpoint

SERVICE_REQUESTS = REQUESTS_PER_WINDOW
SERVICE_WINDOW_S = WINDOW_SECONDS
"""The service's submit limit, which the benchmark stand-in enforces: measure each path
from an empty window (wait ``SERVICE_WINDOW_S``) so none inherits another's requests."""


@contextmanager
def endpoints(*names: str, workers: int = 2) -> Iterator[list[SiteEndpoint]]:
    """Start the stand-in and one ``localhost``-site endpoint per name (real endpoints,
    started with chiltepin's own configure/start), all stopped on exit.

    The stand-in enforces the service's published submit limit (20 requests per 10 s,
    then 429 + Retry-After), so every path compared pays what Globus would charge it.
    """
    with tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp, ExitStack() as stack:
        standin = stack.enter_context(offline_session(Path(tmp)))
        standin.limit_rate("submit", requests=SERVICE_REQUESTS, window=SERVICE_WINDOW_S)
        root = Path(os.environ["GLOBUS_COMPUTE_USER_DIR"])
        overrides = (f"max_workers_per_node={workers}",)
        yield [
            stack.enter_context(
                running_site_endpoint(name, "localhost", standin, root=root, overrides=overrides)
            )
            for name in names
        ]
