"""Contract: ``daemon.pid`` and ``endpoint.json`` as a real ``globus-compute-endpoint``
(started with ``chiltepin endpoint start``, online at the stand-in) writes them."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint
from chiltepin.upstream.endpoint_dir import daemon_pid, registered_endpoint_id
from tests.upstream.contract import contract

pytestmark = pytest.mark.rabbitmq
ENDPOINT = "globus-compute-endpoint"


def test_the_id_read_is_the_one_the_service_registered(
    standin_endpoint: SiteEndpoint, globus_standin: GlobusStandIn
) -> None:
    directory = standin_endpoint.root / standin_endpoint.name
    with contract("Endpoint.get_endpoint_id (endpoint.json)", ENDPOINT, "gives the endpoint id"):
        endpoint_id = registered_endpoint_id(directory)
        assert endpoint_id is not None
        assert globus_standin.endpoint_online(endpoint_id)


def test_the_pid_read_is_the_running_endpoint_daemon(standin_endpoint: SiteEndpoint) -> None:
    directory = standin_endpoint.root / standin_endpoint.name
    with contract("Endpoint.pid_path (daemon.pid)", ENDPOINT, "names the running daemon"):
        pid = daemon_pid(directory)
        assert pid is not None
        title = " ".join(psutil.Process(pid).cmdline())
        assert "Globus Compute Endpoint" in title or "globus-compute-endpoint" in title, title


def test_a_directory_never_started_has_neither(tmp_path: Path) -> None:
    assert daemon_pid(tmp_path) is None
    assert registered_endpoint_id(tmp_path) is None
