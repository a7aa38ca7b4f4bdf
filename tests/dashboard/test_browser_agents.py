"""The run page's Agents section in a real browser (Debian's Chromium driven by
Playwright): hidden while the run has launched no agent, then a row per agent that
follows the journal live (launched on its site, failed there and relaunched on its
fallback, ended; one still running; one whose code failed, with its error as text), the
same table in the saved report, and hidden for a run without agents; the page asks no host
but its own and logs no console error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chiltepin.dashboard.export import write_html
from chiltepin.dashboard.server import Dashboard
from chiltepin.federation.journal import JOURNAL, RESULTS
from tests.dashboard.pages import watched_page
from tests.dashboard.test_view import write_run
from tests.dashboard.test_view_agents import BROKE, BROKEN, MOVED, RUNNING, write_agents

RUN = "20261207-agents"
PLAIN = "20261207-plain"
WAIT_MS = 5000
NONE = "\N{EN DASH}"  # what the page shows for no value


def cells(page: Any, agent: str) -> list[str]:
    return page.locator(f"#agents tbody tr[data-agent='{agent}'] td").all_text_contents()


def check_table(page: Any) -> None:
    """The three agents as the whole journal leaves them, in the order first launched."""
    assert page.is_visible("#agents-section")
    rows = page.locator("#agents tbody tr")
    assert rows.count() == 3
    order = [rows.nth(i).get_attribute("data-agent") for i in range(3)]
    assert order == [MOVED, RUNNING, BROKEN]
    assert cells(page, MOVED) == [MOVED, "Counter", "b", "b", "2", "ended", NONE]
    assert cells(page, RUNNING) == [RUNNING, "Watcher", "a", "a", "1", "running", NONE]
    assert cells(page, BROKEN) == [BROKEN, "Broken", "b", "b", "1", "failed", BROKE]


def test_the_agents_table_follows_the_journal(browser: Any, tmp_path: Path) -> None:
    source = tmp_path / "written"
    write_agents(source)  # the real writer's lines, appended to the live run below a few
    lines = (source / JOURNAL).read_bytes().splitlines(keepends=True)  # at a time
    first_launch = next(i for i, raw in enumerate(lines) if b'"e":"ag"' in raw) + 1
    runs = tmp_path / "runs"
    run_dir = runs / RUN
    run_dir.mkdir(parents=True)
    (run_dir / RESULTS).write_bytes((source / RESULTS).read_bytes())
    (run_dir / JOURNAL).write_bytes(b"".join(lines[:2]))  # the header and the function
    write_run(runs / PLAIN)
    with Dashboard(runs) as dashboard:
        base = dashboard.url.split("?")[0].rstrip("/")
        page, requests, errors = watched_page(browser)
        page.goto(f"{base}/run/{RUN}?token={dashboard.token}")
        page.locator("#run-name", has_text=RUN).wait_for(timeout=WAIT_MS)
        assert page.is_hidden("#agents-section")

        with (run_dir / JOURNAL).open("ab") as f:
            f.write(b"".join(lines[2:first_launch]))  # the first agent launched on a
        page.locator("#agents-section").wait_for(state="visible", timeout=WAIT_MS)
        assert page.locator("#agents tbody tr").count() == 1
        assert cells(page, MOVED) == [MOVED, "Counter", "a", "a", "1", "running", NONE]
        assert page.locator(f"tr[data-agent='{MOVED}'] td.healthy").count() == 1

        with (run_dir / JOURNAL).open("ab") as f:
            f.write(b"".join(lines[first_launch:]))  # lost a, relaunched on b, ... ended
        page.locator(f"tr[data-agent='{MOVED}'] td", has_text="ended").wait_for(timeout=WAIT_MS)
        check_table(page)
        assert page.locator(f"tr[data-agent='{BROKEN}'] td.unhealthy").count() == 1

        page.goto(f"{base}/run/{PLAIN}")  # a run without agents: no section
        page.locator("#run-name", has_text=PLAIN).wait_for(timeout=WAIT_MS)
        page.locator("#count-tasks", has_text="9").wait_for(timeout=WAIT_MS)
        assert page.is_hidden("#agents-section")
        page.close()
    assert requests and all(url.startswith(base + "/") for url in requests)
    assert errors == []

    saved = browser.new_page()  # the saved report shows the same table, asking no one
    saved.on("pageerror", lambda error: errors.append(str(error)))
    saved.goto(write_html(run_dir).as_uri())
    saved.locator("#agents tbody tr >> nth=2").wait_for(timeout=WAIT_MS)
    check_table(saved)
    saved.close()
    assert errors == []
