"""``chiltepin report RUN --html``: a real finished run on an embedded local site, written
as one file and opened from ``file://`` in Debian's Chromium. The page shows the journal's
counts and a failure's error (markup in it stays text), asks nothing of any host, not even
its own, and logs no console error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chiltepin.cli.report import command as report
from chiltepin.federation import Federation
from chiltepin.federation.journal import count_states
from tests.dashboard.pages import watched_page
from tests.federation import tasks

# A failing task's message is free text: a tag that closed the embedded data's <script>
# would load /injected.png (a request this test sees) and lose the rest of the data.
MARKUP = '</script><img src="/injected.png">'


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run: five tasks succeeded, one failed with markup in its message."""
    run_dir = tmp_path_factory.mktemp("export") / "run"
    with Federation({"a": {"kind": "local", "site": "localhost"}}, run_dir=run_dir) as fed:
        failing = fed.submit(tasks.fail_once_per_call, MARKUP)
        squares = [fed.submit(tasks.square, i) for i in range(5)]
        assert [f.result(timeout=180) for f in squares] == [i * i for i in range(5)]
        assert failing.exception(timeout=60) is not None
    return run_dir


def _number(page: Any, selector: str) -> int:
    return int(page.text_content(selector) or "0")


def test_a_saved_report_shows_the_run_offline(browser: Any, run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mail" / "attached.html"
    out.parent.mkdir()
    written = CliRunner().invoke(report, [str(run_dir), "--html", str(out)])
    assert written.exit_code == 0, written.output
    assert str(out) in written.output
    assert not (run_dir / "report.html").exists()

    url = out.as_uri()
    page, requests, errors = watched_page(browser)

    def refuse(route: Any) -> None:  # nothing but the file itself may be loaded
        if route.request.url == url:
            route.continue_()
        else:
            route.abort()

    page.route("**/*", refuse)
    page.goto(url)
    page.locator("#run-state:text-is('finished')").wait_for(timeout=5000)

    counted = count_states(run_dir)
    assert _number(page, "#count-tasks") == counted.tasks == 6
    assert _number(page, "#count-succeeded") == counted.succeeded == 5
    assert _number(page, "#count-failed") == counted.failed == 1
    assert _number(page, "#count-held") == counted.held == 0
    assert _number(page, "#count-pending") == counted.pending == 0
    assert page.locator("#sites tbody tr").count() == 1
    shown = page.text_content("#failures .message") or ""
    assert f"ValueError: user error {MARKUP}" in shown
    assert page.locator("#failures img").count() == 0
    assert page.locator("#runs-link").count() == 0  # no runs list to go back to
    assert page.locator("#timeline polyline").count() == 1
    page.close()
    assert requests == [url]
    assert errors == []


def test_the_default_file_goes_in_the_run_directory(run_dir: Path) -> None:
    written = CliRunner().invoke(report, [str(run_dir), "--html"])
    assert written.exit_code == 0, written.output
    page = (run_dir / "report.html").read_text()
    assert "/static/" not in page  # the stylesheet and the script are inlined
    assert '<script type="application/json" id="run-data">' in page
