"""pytest fixtures for the local Globus stand-in.

Register with ``pytest_plugins = ["chiltepin.testing.pytest_plugin"]`` in a conftest.

``globus_standin`` (session)
    a running ``GlobusStandIn`` (RabbitMQ and the service, each on a free port of
    127.0.0.1, so sessions run side by side) with its ``client_env()`` applied to
    ``os.environ`` (and the SDK's ``local`` environment following it, in this process and
    in every Python process it starts), and ``HOME`` / ``GLOBUS_COMPUTE_USER_DIR``
    pointed at a temporary directory (user endpoints and token storage land there, never
    in the real home).  Fails when RabbitMQ is not installed (``./dev setup`` installs
    it), with or without ``CI`` set: never a skip.
``standin``
    the same object for one test; clears injected faults and offline flags afterwards.
``standin_endpoint`` (session)
    a real template-capable ``globus-compute-endpoint`` configured from the shipped
    ``localhost`` site and started the way users start it (``chiltepin endpoint
    configure`` / ``start``, via ``chiltepin.testing.site_endpoint``), online against the
    stand-in; a ``SiteEndpoint``.  Stopped at the end of the session with ``chiltepin
    endpoint stop``; a process it leaves behind fails the session's last teardown.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chiltepin.system.missing import missing_part
from chiltepin.testing.rabbitmq import rabbitmq_installed
from chiltepin.testing.server import GlobusStandIn
from chiltepin.testing.session import offline_session, stop_result_watchers
from chiltepin.testing.site_endpoint import SiteEndpoint, running_site_endpoint


def require_rabbitmq() -> None:
    """Fail the current test when RabbitMQ is missing."""
    missing = rabbitmq_installed()
    if missing:
        missing_part(f"the Globus stand-in needs RabbitMQ: missing {missing}")


@pytest.fixture(scope="session")
def globus_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GlobusStandIn]:
    require_rabbitmq()
    with offline_session(tmp_path_factory.mktemp("globus-standin")) as standin:
        yield standin


@pytest.fixture
def standin(globus_standin: GlobusStandIn) -> Iterator[GlobusStandIn]:
    yield globus_standin
    globus_standin.clear_faults()


@pytest.fixture(scope="session")
def standin_endpoint(globus_standin: GlobusStandIn) -> Iterator[SiteEndpoint]:
    root = Path(os.environ["GLOBUS_COMPUTE_USER_DIR"])  # set by globus_standin
    with running_site_endpoint("standin-ep", "localhost", globus_standin, root=root) as ep:
        try:
            yield ep
        finally:
            stop_result_watchers()
    leftovers = ep.leftovers()
    assert not leftovers, f"processes left after stopping endpoint {ep.name}: {leftovers}"
