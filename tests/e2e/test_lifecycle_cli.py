"""`chiltepin endpoint start|stop|restart|status|list|delete` and `login|whoami|logout`
against the stand-in: honest exit codes, JSON output, clear messages."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from chiltepin.cli.main import cli
from chiltepin.testing import GlobusStandIn

pytestmark = pytest.mark.rabbitmq


def run(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.output


@pytest.fixture
def root(globus_standin: GlobusStandIn, tmp_path: Path) -> Path:
    return Path(os.environ["GLOBUS_COMPUTE_USER_DIR"])


def configure(name: str, standin: GlobusStandIn) -> None:
    env_args = [a for k, v in standin.client_env().items() for a in ("--env", f"{k}={v}")]
    home = ("--env", f"HOME={os.environ['HOME']}")
    code, out = run(
        "endpoint",
        "configure",
        name,
        "--site",
        "localhost",
        "--local-services",
        "--force",
        *env_args,
        *home,
    )
    assert code == 0, out


def test_lifecycle_with_honest_exit_codes(globus_standin: GlobusStandIn, root: Path) -> None:
    code, out = run("endpoint", "start", "never-configured")
    assert code == 1 and "not configured" in out and "chiltepin endpoint configure" in out

    configure("life", globus_standin)
    code, out = run("endpoint", "status", "life", "--json")
    assert code == 3 and json.loads(out)["running"] is False

    code, out = run("endpoint", "start", "life")
    assert code == 0, out
    status = json.loads(run("endpoint", "status", "life", "--json")[1])
    assert status["running"] and status["site"] == "localhost" and status["endpoint_id"]
    assert globus_standin.wait_for_endpoint(status["endpoint_id"], timeout=30)

    code, out = run("endpoint", "start", "life")
    assert code == 1 and "already running" in out and "restart" in out

    listed = json.loads(run("endpoint", "list", "--json")[1])
    assert {"life"} <= {e["name"] for e in listed}

    code, out = run("endpoint", "restart", "life")
    assert code == 0, out
    restarted = json.loads(run("endpoint", "status", "life", "--json")[1])
    assert restarted["endpoint_id"] == status["endpoint_id"] and restarted["pid"] != status["pid"]

    code, out = run("endpoint", "stop", "life")
    assert code == 0 and "Stopped" in out
    assert run("endpoint", "status", "life")[0] == 3
    code, out = run("endpoint", "stop", "life")
    assert code == 0 and "was not running" in out

    code, out = run("endpoint", "delete", "life", "--yes")
    assert code == 0, out
    assert not (root / "life").exists()


def test_start_without_credentials_says_how_to_log_in(tmp_path: Path) -> None:
    env = {
        "GLOBUS_COMPUTE_CLIENT_ID": None,
        "GLOBUS_COMPUTE_CLIENT_SECRET": None,
        "GLOBUS_COMPUTE_USER_DIR": str(tmp_path / "empty"),
    }
    code, out = run("endpoint", "configure", "nologin", "--site", "localhost", env=env)
    assert code == 0
    code, out = run("endpoint", "start", "nologin", env=env)
    assert code == 1 and "not logged in" in out and "GLOBUS_COMPUTE_CLIENT_ID" in out


def test_whoami_and_login_with_client_credentials(globus_standin: GlobusStandIn) -> None:
    code, out = run("login")
    assert code == 0 and "client identity" in out, out
    code, out = run("whoami", "--json")
    who = json.loads(out)
    assert code == 0 and who["client_credentials"] is True and who["id"]
    secret = os.environ["GLOBUS_COMPUTE_CLIENT_SECRET"]
    assert secret not in out  # never print tokens or secrets


def test_login_never_prompts_without_a_terminal(tmp_path: Path) -> None:
    env = {
        "GLOBUS_COMPUTE_CLIENT_ID": None,
        "GLOBUS_COMPUTE_CLIENT_SECRET": None,
        "GLOBUS_COMPUTE_USER_DIR": str(tmp_path),
        "HOME": str(tmp_path),
    }
    code, out = run("login", env=env)
    assert code == 1 and "no terminal" in out and "GLOBUS_COMPUTE_CLIENT_SECRET" in out
