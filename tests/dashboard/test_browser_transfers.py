"""The run page's Transfers section in a real browser (Debian's Chromium driven by
Playwright): "No transfers." until the run stages something, then a row per direction,
source and destination that follows the journal live (pairs in flight, then the batch's
files and bytes), a failed batch with its error as text, and the same table in the saved
report; the page asks no host but its own and logs no console error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chiltepin.dashboard.export import write_html
from chiltepin.dashboard.server import Dashboard
from chiltepin.federation.journal import Journal
from chiltepin.federation.journal_format import TransferEvent
from tests.dashboard.pages import watched_page

RUN = "20261207-staging"
T0 = 1_800_000_000.0
MARKUP = '<img src="/injected.png">'
ERROR = f"FILE_NOT_FOUND: /data/{MARKUP} not found"
WAIT_MS = 5000
NONE = "\N{EN DASH}"  # what the page shows for no value


def cells(page: Any, row: int) -> list[str]:
    return page.locator(f"#transfers tbody tr >> nth={row}").locator("td").all_text_contents()


def check_table(page: Any) -> None:
    """The journal's two rows, as the finished run below left them."""
    assert page.locator("#transfers tbody tr").count() == 2
    assert cells(page, 0) == [
        "in", "home", "site-a", "2", "1", "1", "0", "4", "3", "1.5 MB", f"{ERROR} [task t-2]",
    ]  # fmt: skip
    assert cells(page, 1) == ["out", "local", "home", "1", "1", "0", "0", "1", "1", "512 B", NONE]
    assert page.locator("#transfers img").count() == 0  # the error went in as text
    assert page.is_hidden("#no-transfers")


def test_the_transfers_table_follows_the_journal(browser: Any, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    journal = Journal(runs / RUN)
    journal.run({"sites": {}})
    with Dashboard(runs) as dashboard:
        base = dashboard.url.split("?")[0].rstrip("/")
        page, requests, errors = watched_page(browser)
        page.goto(f"{base}/run/{RUN}?token={dashboard.token}")
        page.locator("#no-transfers").wait_for(state="visible", timeout=WAIT_MS)
        assert page.text_content("#no-transfers") == "No transfers."
        assert page.is_hidden("#transfers")

        journal.transfer(TransferEvent(T0, "in", "home", "site-a", "active", 3))
        journal.transfer(TransferEvent(T0, "in", "home", "site-a", "active", 1))
        in_flight = page.locator("#transfers tbody tr >> nth=0").locator("td >> nth=6")
        in_flight.locator("text='4'").wait_for(timeout=WAIT_MS)
        assert page.is_hidden("#no-transfers")

        journal.transfer(
            TransferEvent(T0 + 2, "in", "home", "site-a", "ok", 3, 3, 1_500_000, task="t-1")
        )
        journal.transfer(
            TransferEvent(T0 + 3, "in", "home", "site-a", "failed", 1, error=ERROR, task="t-2")
        )
        journal.transfer(TransferEvent(T0 + 4, "out", "local", "home", "active", 1))
        journal.transfer(TransferEvent(T0 + 5, "out", "local", "home", "ok", 1, 1, 512))
        page.locator("#transfers tbody tr >> nth=1").wait_for(timeout=WAIT_MS)
        page.locator("#transfers td", has_text="512 B").wait_for(timeout=WAIT_MS)
        check_table(page)
        size = page.locator("#transfers tbody tr >> nth=0").locator("td >> nth=9")
        assert size.get_attribute("title") == "1500000 bytes"
        page.close()
    journal.close()
    assert requests and all(url.startswith(base + "/") for url in requests)
    assert errors == []

    saved = browser.new_page()  # the saved report shows the same table, asking no one
    saved.on("pageerror", lambda error: errors.append(str(error)))
    saved.goto(write_html(runs / RUN).as_uri())
    saved.locator("#transfers tbody tr >> nth=1").wait_for(timeout=WAIT_MS)
    check_table(saved)
    saved.close()
    assert errors == []
