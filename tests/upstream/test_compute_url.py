"""Contract: the SDK's ``local`` environment, hard-wired to localhost:5000, follows
``CHILTEPIN_COMPUTE_URL`` in this process and in processes started with the startup
directory on ``PYTHONPATH`` (how the endpoint and its user endpoints reach a stand-in on a
free port)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from globus_compute_sdk import Client
from globus_compute_sdk.sdk import _environments
from globus_compute_sdk.sdk import client as sdk_client

from chiltepin.testing.server import GlobusStandIn
from chiltepin.upstream import compute_url
from tests.upstream.contract import contract

SDK = "globus-compute-sdk"
SHOW_URL = (
    "from globus_compute_sdk.sdk import client, _environments\n"
    "print(client.get_web_service_url('local'), _environments.get_web_service_url(),"
    " client.get_web_service_url('production'))"
)


def test_local_is_still_hard_wired_to_port_5000(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the variable the SDK's own answer: were it ever configurable upstream, this
    seam could go."""
    monkeypatch.delenv(compute_url.URL_VAR, raising=False)
    compute_url.follow_environment()
    with contract("_environments.get_web_service_url", SDK, "maps 'local' to localhost:5000"):
        assert _environments.get_web_service_url("local") == "http://localhost:5000"
        assert sdk_client.get_web_service_url("local") == "http://localhost:5000"


def test_in_this_process_local_follows_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    compute_url.follow_environment()
    with contract("client.get_web_service_url", SDK, "is what a Client takes its URL from"):
        assert compute_url.follows(sdk_client.get_web_service_url)
        assert compute_url.follows(_environments.get_web_service_url)
    monkeypatch.setenv(compute_url.URL_VAR, "http://127.0.0.1:4321/")
    monkeypatch.setenv("GLOBUS_SDK_ENVIRONMENT", "local")
    assert sdk_client.get_web_service_url() == "http://127.0.0.1:4321"
    assert sdk_client.get_web_service_url("local") == "http://127.0.0.1:4321"
    assert sdk_client.get_web_service_url("production") == "https://compute.api.globus.org"


def test_a_new_process_follows_it_with_the_startup_directory_on_its_path() -> None:
    env = {
        **os.environ,
        compute_url.URL_VAR: "http://127.0.0.1:4321/",
        "GLOBUS_SDK_ENVIRONMENT": "local",
        "PYTHONPATH": compute_url.pythonpath(os.environ.get("PYTHONPATH")),
    }
    out = subprocess.run(
        [sys.executable, "-c", SHOW_URL], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [
        "http://127.0.0.1:4321",
        "http://127.0.0.1:4321",
        "https://compute.api.globus.org",
    ]
    del env[compute_url.URL_VAR]  # the startup module changes nothing without it
    out = subprocess.run(
        [sys.executable, "-c", SHOW_URL], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[:2] == ["http://localhost:5000", "http://localhost:5000"]


def test_pythonpath_puts_the_startup_directory_first_once() -> None:
    startup = str(compute_url.STARTUP_DIR)
    assert compute_url.pythonpath(None) == startup
    assert compute_url.pythonpath(f"/a{os.pathsep}{startup}{os.pathsep}/b") == os.pathsep.join(
        [startup, "/a", "/b"]
    )


@pytest.mark.rabbitmq
def test_a_bare_client_reaches_the_session_stand_in_on_its_free_port(
    globus_standin: GlobusStandIn,
) -> None:
    assert globus_standin.port != 5000  # the session picked a free one
    client = Client(do_version_check=False)  # GLOBUS_SDK_ENVIRONMENT=local, no URL given
    assert client.web_service_address == globus_standin.url
    assert isinstance(client.get_endpoints(), list)
