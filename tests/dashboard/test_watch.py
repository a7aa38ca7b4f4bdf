"""``chiltepin.dashboard.watch``: a run's page served from inside the run over a real short
run on an embedded local site; the token is needed, only that run is shown, its URL is
said once, and the port is closed when the block ends."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from chiltepin.dashboard import watch
from chiltepin.federation import Federation
from chiltepin.federation.journal import JOURNAL, count_states
from tests.dashboard.http import closed, get
from tests.federation import tasks


def _api(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    status, body = get(parts._replace(path="/api" + parts.path).geturl())
    assert status == 200
    return json.loads(body)


def test_watch_serves_the_runs_page_while_it_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    neighbour = runs / "20261207-neighbour"
    neighbour.mkdir(parents=True)
    (neighbour / JOURNAL).write_text("")
    said: list[str] = []
    sites = {"a": {"kind": "local", "site": "localhost"}}
    with Federation(sites, run_dir=runs / "20261207-watched", progress=False) as fed:
        with watch(fed, say=said.append) as url:
            parts = urlsplit(url)
            assert parts.hostname == "127.0.0.1"
            assert parts.path == "/run/20261207-watched"
            assert said == [f"dashboard of this run: {url}"]
            status, page = get(url)
            assert status == 200 and b'<body data-page="run">' in page

            assert [fed.submit(tasks.square, i).result(timeout=180) for i in range(3)] == [0, 1, 4]
            shown = _api(url)
            assert shown["run"] == "20261207-watched"
            assert shown["state"] == "live"
            assert shown["counts"]["succeeded"] == count_states(fed.run_dir).succeeded == 3

            assert get(parts._replace(query="").geturl())[0] == 401  # no token
            other = parts._replace(path="/run/20261207-neighbour").geturl()
            assert get(other)[0] == 404  # only the watched run is served
            status, listed = get(parts._replace(path="/api/runs").geturl())
            assert [r["run"] for r in json.loads(listed)] == ["20261207-watched"]
        port = parts.port
        assert port is not None and closed(port)
    assert said == [f"dashboard of this run: {url}"]

    with watch(fed.run_dir, say=said.append) as again:  # a run directory, the run finished
        assert _api(again)["state"] == "finished"
    assert len(said) == 2


def test_watch_refuses_a_run_directory_without_a_journal(tmp_path: Path) -> None:
    with watch(tmp_path / "nothing", say=lambda _: None) as url:
        assert get(url)[0] == 404
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)
