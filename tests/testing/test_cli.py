"""``chiltepin testing up/status/down`` on a free port, in a temporary state directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import requests

from chiltepin.system import processes
from chiltepin.testing.pytest_plugin import require_rabbitmq
from chiltepin.testing.rabbitmq import free_port


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "chiltepin"), "testing", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_up_status_down(tmp_path: Path) -> None:
    require_rabbitmq()
    port = free_port()
    state = tmp_path / "state"
    res = _cli("up", "--port", str(port), "--state-dir", str(state))
    state_file = state / "standin.json"
    info = json.loads(state_file.read_text()) if state_file.exists() else {}
    try:
        assert res.returncode == 0, res.stderr
        assert "NOT Globus" in res.stderr
        assert f"export GLOBUS_SDK_SERVICE_URL_AUTH=http://127.0.0.1:{port}/" in res.stdout
        assert "export GLOBUS_COMPUTE_CLIENT_ID=" in res.stdout
        r = requests.get(f"http://127.0.0.1:{port}/v2/version", timeout=5)
        assert r.headers["X-Chiltepin-Stand-In"] == "true"

        again = _cli("up", "--port", str(port), "--state-dir", str(state))
        assert again.returncode == 1 and "already running" in again.stderr

        st = _cli("status", "--state-dir", str(state))
        assert st.returncode == 0 and "running" in st.stdout
    finally:
        down = _cli("down", "--state-dir", str(state))
    assert down.returncode == 0, down.stderr
    pids = [info["pid"], *info["rabbitmq_pids"].values()] if info else []
    assert not processes.leftovers(pids), "stand-in processes left after down"
    assert _cli("status", "--state-dir", str(state)).returncode == 3
