"""Issue 18 (3): a multi-user endpoint run as root, for real. Two stand-in identities (two
confidential clients, as Globus Auth gives each its own identity) are mapped by the
endpoint's identity mapping to two local Unix accounts created here; each gets its own
user endpoint running as that account, and one cannot signal the other's processes.

The endpoint runs from a world-readable virtual environment built here from PyPI, on this
host's Python: it forks each user endpoint from its own interpreter and drops privileges
before it execs, so the mapped accounts must be able to read that interpreter (the
client's environment may sit under a private home).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import globus_sdk
import pytest
from globus_compute_sdk import Client, Executor

from chiltepin.endpoints import lifecycle
from chiltepin.endpoints.configure import configure_endpoint, private_parent
from chiltepin.endpoints.render import EndpointRequest
from chiltepin.sites.loader import load_site
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint, stop_site_endpoint
from chiltepin.upstream import compute_url
from tests.e2e import mu_tasks

pytestmark = [pytest.mark.rabbitmq]
USERS = ("chiltepin-mu-a", "chiltepin-mu-b")
REPO = Path(__file__).resolve().parents[2]
STACK = ("globus-compute-endpoint", "globus-compute-sdk", "parsl", "texttable")


def ensure_user(name: str) -> None:
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True)


def remove_user(name: str) -> None:
    subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)


def shared_env(root: Path) -> Path:
    """A venv anyone can run: this host's python3 with the client's endpoint stack pinned
    to the client's versions (installed from the package index)."""
    env = root / "env"
    python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    assert python and private_parent(Path(python)) is None, f"no python3 all can run: {python}"
    subprocess.run([python, "-m", "venv", str(env)], check=True)
    freeze = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    constraints = root / "constraints.txt"
    constraints.write_text(freeze)
    pins = [line for line in freeze.splitlines() if line.split("==")[0].lower() in STACK]
    pip = [str(env / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(constraints)]
    subprocess.run([*pip, *pins], check=True)
    return env


def token_for(standin: GlobusStandIn, client_id: str) -> str:
    auth = globus_sdk.ConfidentialAppAuthClient(client_id, "any")
    scope = "https://auth.globus.org/scopes/facd7ccc-c5f4-42aa-916b-a0e270e2c2a9/all"
    tokens = auth.oauth2_client_credentials_tokens(requested_scopes=scope)
    return str(tokens.by_resource_server["funcx_service"]["access_token"])


@pytest.fixture(scope="module")
def multi_user(
    globus_standin: GlobusStandIn,
) -> Iterator[tuple[SiteEndpoint, dict[str, str]]]:
    if os.geteuid() != 0:
        pytest.fail("a multi-user endpoint test runs as root", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="chiltepin-mu-"))
    root.chmod(0o755)
    clients = {str(uuid.uuid4()): user for user in USERS}
    try:
        for user in USERS:
            ensure_user(user)
        env = shared_env(root)
        mapping = root / "identity_mapping.json"
        mapping.write_text(
            json.dumps(
                [
                    {
                        "DATA_TYPE": "expression_identity_mapping#1.0.0",
                        "mappings": [
                            {
                                "source": "{username}",
                                "match": f"{cid}@clients\\.auth\\.globus\\.org",
                                "output": user,
                            }
                            for cid, user in clients.items()
                        ],
                    }
                ]
            )
        )
        mapping.chmod(0o644)
        environment = {
            **globus_standin.client_env(),
            "PATH": f"{env / 'bin'}:/usr/bin:/bin",
            "PYTHONPATH": compute_url.pythonpath(str(REPO)),  # the stand-in's port too
        }
        request = EndpointRequest(
            endpoint_name="mu",
            site=load_site("localhost", []),
            site_ref="localhost",
            local_compute_services=True,
            contact_email="admin@chiltepin.invalid",
            environment=tuple(environment.items()),
            identity_mapping=str(mapping),
        )
        endpoints = root / "endpoints"
        configure_endpoint(request, endpoints)
        status = lifecycle.start(endpoints, "mu", cli=str(env / "bin" / "globus-compute-endpoint"))
        assert status.endpoint_id is not None
        globus_standin.wait_for_endpoint(status.endpoint_id, timeout=60)
        endpoint = SiteEndpoint("mu", endpoints, status.endpoint_id, 0.0)
        try:
            yield endpoint, clients
        finally:
            assert stop_site_endpoint(endpoint) == []
    finally:
        for user in USERS:
            remove_user(user)
        shutil.rmtree(root, ignore_errors=True)


def run_as(standin: GlobusStandIn, endpoint: SiteEndpoint, client_id: str, fn, *args) -> object:  # type: ignore[no-untyped-def]
    client = Client(authorizer=globus_sdk.AccessTokenAuthorizer(token_for(standin, client_id)))
    with Executor(
        endpoint_id=endpoint.endpoint_id,
        client=client,
        task_group_id=uuid.uuid4(),
        user_endpoint_config={},
    ) as ex:
        return ex.submit(fn, *args).result(timeout=120)


def test_each_identity_runs_as_its_own_account_and_cannot_reach_the_other(
    globus_standin: GlobusStandIn, multi_user: tuple[SiteEndpoint, dict[str, str]]
) -> None:
    endpoint, clients = multi_user
    seen = {
        user: run_as(globus_standin, endpoint, cid, mu_tasks.who) for cid, user in clients.items()
    }
    for user, (uid, name, _) in seen.items():
        assert (uid, name) == (pwd.getpwnam(user).pw_uid, user), seen
    (a_cid, a_user), (b_cid, b_user) = clients.items()
    b_pid = seen[b_user][2]
    assert run_as(globus_standin, endpoint, a_cid, mu_tasks.signal, b_pid) == "EPERM"
    assert run_as(globus_standin, endpoint, b_cid, mu_tasks.signal, seen[a_user][2]) == "EPERM"
    print(f"\nuids reported: {seen}")
