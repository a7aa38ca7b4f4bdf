"""The dashboard in a real browser (Debian's Chromium driven by Playwright) over a real run
on two embedded local sites: it updates live, shows a failure's error, a site's idle
workers falling while it works and its blocks, ends with the journal's counts, asks no
host but its own, and logs no console error; a written journal's sites table: a count a
site does not report is a dash whose tooltip says why; and the endpoints page, reached
from the runs page."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from chiltepin.dashboard import unknown
from chiltepin.dashboard.endpoint_status import NOT_LOGGED_IN
from chiltepin.dashboard.server import Dashboard
from chiltepin.federation import Federation
from chiltepin.federation.journal import JOURNAL, count_states
from chiltepin.system.waiting import wait_until
from tests.dashboard.pages import watched_page
from tests.dashboard.test_endpoints import EP1, EP2, sites_file, write_endpoint_run
from tests.dashboard.test_view import write_run
from tests.federation import tasks

RUN = "20261207-live"
SITE_START_S = 180  # two embedded sites start their workers (slow on a loaded machine)
LIVE_S = 2.0  # how far behind the journal the page may be


def _site() -> dict[str, Any]:
    return {"kind": "local", "site": "localhost", "options": {"max_workers_per_node": 2}}


def _number(page: Any, selector: str) -> int:
    return int(page.text_content(selector) or "0")


def _cell(page: Any, site: str, column: str) -> Any:
    row = page.locator("#sites tbody tr", has=page.locator(f"td:text-is('{site}')"))
    return row.locator(f"td[data-col='{column}']")


def _status_lines(run_dir: Path) -> int:
    return (run_dir / JOURNAL).read_bytes().count(b'{"e":"st",')


def test_a_run_is_watched_live_in_a_browser(browser: Any, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run_dir = runs / RUN
    gate = tmp_path / "gate"
    with Dashboard(runs) as dashboard:
        base = dashboard.url.split("?")[0].rstrip("/")
        page, requests, errors = watched_page(browser)
        sites = {"a": _site(), "b": _site()}
        with Federation(sites, run_dir=run_dir, progress=False) as fed:
            page.goto(f"{base}/run/{RUN}?token={dashboard.token}")
            failing = fed.submit(tasks.fail_once_per_call, 7)
            gated = [fed.submit(tasks.wait_for, str(gate), i) for i in range(6)]
            shown = page.locator("#failures .message", has_text="ValueError: user error 7")
            shown.wait_for(timeout=SITE_START_S * 1000)
            assert failing.exception() is not None
            assert page.text_content("#failures").count("attempt 1") == 1
            assert page.text_content("#run-state") == "live"
            assert _number(page, "#count-succeeded") == 0
            assert page.locator("#sites tbody tr").count() == 2
            # Six gated tasks on four workers: a site works, so fewer of its workers idle.
            busy = page.locator(
                "#sites td[data-col='workers']", has_text=re.compile(r"^2 \([01]\)$")
            )
            busy.first.wait_for(timeout=SITE_START_S * 1000)

            gate.touch()  # the tasks finish now: the page must follow within LIVE_S
            seen_in_journal = None
            give_up = time.monotonic() + 60
            while _number(page, "#count-succeeded") == 0:
                assert time.monotonic() < give_up, "the gated tasks never finished"
                if seen_in_journal is None and count_states(run_dir).succeeded:
                    seen_in_journal = time.monotonic()
                assert seen_in_journal is None or time.monotonic() - seen_in_journal <= LIVE_S
                page.wait_for_timeout(50)
            assert [f.result(timeout=60) for f in gated] == list(range(6))

            # The run wrote its status while it worked, and writes none once idle.
            page.locator("#states [data-state='succeeded'] b:text-is('6')").wait_for(
                timeout=LIVE_S * 1000 + 1000
            )
            settled = wait_until(
                lambda: _quiet_for(run_dir, page, 1.5), timeout=20, what="status lines to stop"
            )
            assert settled >= 2
            for site in sites:  # all done: every worker idle, the site's one block running
                assert _cell(page, site, "workers").text_content() == "2 (2)"
                assert _cell(page, site, "blocks").text_content() == "1 / 0"
                assert _cell(page, site, "blocks").get_attribute("title") is None

        page.locator("#run-state:text-is('finished')").wait_for(timeout=LIVE_S * 1000 + 1000)
        counted = count_states(run_dir)
        page.wait_for_timeout(1100)  # one more poll: the page's last word
        assert _number(page, "#count-tasks") == counted.tasks == 7
        assert _number(page, "#count-succeeded") == counted.succeeded == 6
        assert _number(page, "#count-failed") == counted.failed == 1
        assert _number(page, "#count-held") == counted.held == 0
        assert _number(page, "#count-pending") == counted.pending == 0

        _zoom_the_timeline(page)

        page.goto(f"{base}/")  # the runs list: the cookie carries the token now
        row = page.locator("#runs tbody tr", has_text=RUN)
        row.get_by_text("finished").wait_for(timeout=5000)
        page.close()
    assert requests and all(url.startswith(base + "/") for url in requests), requests
    assert errors == []


def _quiet_for(run_dir: Path, page: Any, seconds: float) -> int | None:
    """The number of status lines, if none was added over ``seconds``."""
    before = _status_lines(run_dir)
    page.wait_for_timeout(seconds * 1000)
    after = _status_lines(run_dir)
    return after if after == before else None


def _window(page: Any) -> tuple[float, float]:
    start, end = (page.get_attribute("#timeline", "data-window") or "").split(",")
    return float(start), float(end)


def _zoom_the_timeline(page: Any) -> None:
    """Dragging across the middle half of the timeline shows that part of the run, the
    throughput chart too; a double-click shows the whole run again."""
    whole = _window(page)
    assert whole[0] == 0 and whole[1] > 0
    box = page.locator("#timeline").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    assert page.locator("#zoom-brush").count() == 1  # the window being picked is drawn
    page.mouse.move(box["x"] + box["width"] * 0.75, y, steps=5)
    page.mouse.up()
    start, end = _window(page)
    assert abs(start - whole[1] * 0.25) <= whole[1] * 0.02
    assert abs(end - whole[1] * 0.75) <= whole[1] * 0.02
    assert page.is_visible("#zoom-reset")
    shown_from = page.text_content("#throughput [data-edge='start']") or ""
    assert shown_from.endswith(" s") and abs(float(shown_from[:-2]) - start) <= 0.6
    page.wait_for_timeout(1100)  # a poll redraws the page: the window stays
    assert _window(page) == (start, end)
    page.dblclick("#timeline")
    assert _window(page) == whole
    assert not page.is_visible("#zoom-reset")


def test_the_endpoints_page_in_a_browser(
    browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reached from the runs page's header: an endpoint named by a finished run and the
    sites file, the run's tasks on it with a link to the run, and (no Globus login here)
    the reason its status is unknown; no other host asked, no console error."""
    monkeypatch.delenv("GLOBUS_COMPUTE_CLIENT_ID", raising=False)
    monkeypatch.delenv("GLOBUS_COMPUTE_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("GLOBUS_COMPUTE_USER_DIR", str(tmp_path / "no-tokens"))
    runs = tmp_path / "runs"
    write_endpoint_run(runs / RUN, ep_name="ep", status_at=None, finished=True)
    sites = sites_file(tmp_path / "sites.yaml", mine=EP1)
    with Dashboard(runs, sites=sites) as dashboard:
        base = dashboard.url.split("?")[0].rstrip("/")
        page, requests, errors = watched_page(browser)
        page.goto(f"{base}/?token={dashboard.token}")
        page.click("#endpoints-link")
        row = page.locator(f"#endpoints tr[data-endpoint='{EP1}']")
        row.get_by_text(NOT_LOGGED_IN).wait_for(timeout=20_000)
        assert row.locator(".badge").text_content() == "unknown"
        cells = [c.strip() for c in row.locator("td").all_text_contents()]
        assert cells[5:9] == ["0", "6", "2", "1"]  # out now, placed, succeeded, failed
        assert page.locator(f"#endpoints tr[data-endpoint='{EP2}']").count() == 1
        row.get_by_role("link", name=RUN).click()
        page.locator("#run-name", has_text=RUN).wait_for(timeout=5000)
        page.close()
    assert requests and all(url.startswith(base + "/") for url in requests), requests
    assert errors == []


def test_a_count_a_site_does_not_report_is_a_dash_that_says_why(
    browser: Any, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    write_run(runs / "20261207-run")  # a: a local site; b: an endpoint (no blocks)
    with Dashboard(runs) as dashboard:
        base = dashboard.url.split("?")[0].rstrip("/")
        page = browser.new_page()
        page.goto(f"{base}/run/20261207-run?token={dashboard.token}")
        _cell(page, "a", "workers").wait_for(timeout=5000)
        assert _cell(page, "a", "workers").text_content() == "2 (1)"
        assert _cell(page, "a", "blocks").text_content() == "1 / 2"
        assert _cell(page, "b", "workers").text_content() == "0 (0)"
        blocks = _cell(page, "b", "blocks")
        assert blocks.text_content() == "\u2013"  # an en dash
        assert blocks.get_attribute("title") == unknown.NO_BLOCKS
        page.close()
