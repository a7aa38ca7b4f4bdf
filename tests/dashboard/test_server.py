"""The dashboard's server over real HTTP: loopback, the token on every request, read-only,
nothing outside the run directories; and the ``chiltepin dashboard`` command."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from chiltepin.cli.main import cli
from chiltepin.dashboard.server import Dashboard, host_warning
from chiltepin.system.waiting import wait_until
from tests.dashboard.http import closed
from tests.dashboard.test_view import write_run

RUN = "20261207-run"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    write_run(root / RUN)
    outside = tmp_path_factory.mktemp("outside")  # a run not under the root
    write_run(outside / "secret")
    (root / "linked").symlink_to(outside / "secret")
    (root / "not-a-run").mkdir()
    return root


@pytest.fixture(scope="module")
def dashboard(runs: Path) -> Iterator[Dashboard]:
    with Dashboard(runs) as served:
        yield served


def get(
    dashboard: Dashboard,
    path: str,
    *,
    method: str = "GET",
    cookie: str | None = None,
    headers: dict[str, str] | None = None,
):
    """(status, headers, body) for ``path`` sent exactly as given (no client-side
    normalising of ``..`` or escapes)."""
    host, port = dashboard.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        sent = {**(headers or {}), **({"Cookie": cookie} if cookie else {})}
        conn.request(method, path, headers=sent)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_it_binds_loopback_and_prints_a_url_with_a_long_random_token(
    dashboard: Dashboard, runs: Path
) -> None:
    assert dashboard.address[0] == "127.0.0.1"
    assert dashboard.url == f"http://127.0.0.1:{dashboard.address[1]}/?token={dashboard.token}"
    assert len(dashboard.token) >= 32
    with Dashboard(runs) as other:
        assert other.token != dashboard.token


@pytest.mark.parametrize(
    "path",
    ["/", f"/run/{RUN}", f"/api/run/{RUN}", "/api/runs", "/static/dashboard.js", "/x", "/metrics"],
)
def test_every_request_needs_the_token(dashboard: Dashboard, path: str) -> None:
    status, _, body = get(dashboard, path)
    assert status == 401 and RUN.encode() not in body
    wrong = "?token=" + "x" * len(dashboard.token)
    assert get(dashboard, path + wrong)[0] == 403
    assert get(dashboard, path, cookie=f"{dashboard.cookie}=wrong")[0] == 403


def test_the_token_in_the_url_becomes_a_cookie_the_page_uses(dashboard: Dashboard) -> None:
    status, headers, _ = get(dashboard, f"/run/{RUN}?token={dashboard.token}")
    assert status == 200
    cookie = headers["Set-Cookie"].split(";")[0]
    assert cookie == f"{dashboard.cookie}={dashboard.token}"
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    status, _, body = get(dashboard, f"/api/run/{RUN}", cookie=cookie)
    page = json.loads(body)
    assert status == 200 and page["counts"]["succeeded"] == 5 and page["state"] == "finished"
    status, _, body = get(dashboard, "/api/runs", cookie=cookie)
    assert [r["run"] for r in json.loads(body)] == [RUN]  # no symlink, no directory without one


@pytest.mark.parametrize(
    "path",
    [
        "/run/..",
        "/run/%2e%2e",
        "/api/run/..%2F..%2Fetc%2Fpasswd",
        "/api/run/%2E%2E/%2E%2E/etc/passwd",
        "/api/run/linked",
        "/api/run/not-a-run",
        "/api/run/" + RUN + "%2Fjournal.jsonl",
        "/api/run/" + RUN + "/../../secret",
        "/static/..%2Fview.py",
        "/static/../server.py",
        "/static/%2e%2e/%2e%2e/federation/journal.py",
        "/static/run.html/..",
        "/etc/passwd",
        "//etc/passwd",
        "/run/" + RUN + "%00",
    ],
)
def test_nothing_outside_the_run_directories_is_served(dashboard: Dashboard, path: str) -> None:
    status, _, body = get(dashboard, f"{path}?token={dashboard.token}")
    assert status == 404, body
    assert b"root:" not in body and b"import" not in body


def test_it_is_read_only(dashboard: Dashboard) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert get(dashboard, f"/api/runs?token={dashboard.token}", method=method)[0] == 405
    status, headers, body = get(dashboard, f"/api/runs?token={dashboard.token}", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_a_host_other_than_loopback_is_warned_about() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert host_warning(host) is None
    for host in ("0.0.0.0", "10.1.2.3", "login1.example.org", "::"):
        warning = host_warning(host)
        assert warning is not None and host in warning and "token" in warning


@contextmanager
def _command(*args: str) -> Iterator[tuple[int, str]]:
    """``chiltepin dashboard ARGS`` in its own process: (its port, its URL's token);
    interrupted as Ctrl-C would, and it must exit 0."""
    cli = "from chiltepin.cli.main import cli; cli()"
    process = subprocess.Popen(
        [sys.executable, "-c", cli, "dashboard", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", first)
        assert found, first
        yield int(found[1]), found[2]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            wait_until(lambda: process.poll() is not None, timeout=20, what="the dashboard to stop")
        finally:
            if process.poll() is None:  # a dashboard that hangs is not left behind
                process.kill()
                process.wait()
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""


def test_the_command_serves_runs_until_interrupted(runs: Path) -> None:
    with _command("--runs", str(runs)) as (port, token):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/api/runs?token={token}")
        assert json.loads(conn.getresponse().read())[0]["run"] == RUN
        conn.request("GET", "/api/runs")
        assert conn.getresponse().status == 401
        conn.close()


@pytest.mark.parametrize("start", range(3))
def test_a_ctrl_c_as_soon_as_the_url_is_out_is_a_clean_stop(runs: Path, start: int) -> None:
    """Interrupted the moment its first line is read, before it serves a request: it
    stops, with exit 0. A Ctrl-C that landed between the URL and the serving loop once
    exited 1 (click's "Aborted!"), and then, once caught, hung: the stop waited for a
    serving loop that had never begun."""
    with _command("--runs", str(runs)) as (port, token):
        assert port > 0 and token


def test_a_token_file_keeps_the_token_over_a_restart(runs: Path, tmp_path: Path) -> None:
    """What Prometheus's credentials_file needs: the token the file holds, written on the
    first start (owner-only) and served again by the next."""
    token_file = tmp_path / "secrets" / "dashboard-token"
    token_file.parent.mkdir()
    with _command("--runs", str(runs), "--token-file", str(token_file)) as (_, first):
        assert token_file.read_text().strip() == first
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    with _command("--runs", str(runs), "--token-file", str(token_file)) as (port, again):
        assert again == first
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {first}"})
        assert conn.getresponse().status == 200
        conn.close()


@pytest.mark.parametrize(
    ("text", "mode", "said"),
    [
        ("x" * 40 + "\n", 0o644, "others may read"),
        ("short\n", 0o600, "expected one token"),
        ("two tokens " + "y" * 40, 0o600, "expected one token"),
    ],
)
def test_an_unusable_token_file_is_refused_naming_it(
    runs: Path, tmp_path: Path, text: str, mode: int, said: str
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(text)
    token_file.chmod(mode)
    result = CliRunner().invoke(
        cli, ["dashboard", "--runs", str(runs), "--token-file", str(token_file)]
    )
    assert result.exit_code == 1
    assert str(token_file) in result.output and said in result.output
    assert "Traceback" not in result.output
    assert token_file.read_text() == text  # left as it was


def test_a_dashboard_that_never_served_stops_at_once(runs: Path) -> None:
    """What a Ctrl-C before the serving loop leaves: a dashboard built and never served
    must stop (its socket closed) instead of waiting for a loop that never ran."""
    dashboard = Dashboard(runs)
    port = dashboard.address[1]
    stopping = threading.Thread(target=dashboard.stop, daemon=True)
    stopping.start()
    stopping.join(10)
    assert not stopping.is_alive(), "stop() waited for a serving loop that never began"
    assert closed(port)
