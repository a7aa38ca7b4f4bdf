"""Debian's Chromium driven by Playwright, for the tests that look at the page as a person
would; its own browser builds need the internet, so ``executable_path`` names Debian's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chiltepin.system.missing import missing_part

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        missing_part(f"the dashboard's browser tests drive Debian's chromium ({CHROMIUM})")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_part("the dashboard's browser tests need the playwright package (test extra)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()
