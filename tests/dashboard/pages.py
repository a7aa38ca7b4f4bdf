"""A browser page that keeps what the dashboard tests check on every page: each request it
makes (to any host: the page must load nothing from outside the dashboard) and each error
its script reports (a console error or an uncaught exception)."""

from __future__ import annotations

from typing import Any, NamedTuple


class Watched(NamedTuple):
    page: Any
    requests: list[str]
    errors: list[str]


def watched_page(browser: Any) -> Watched:
    """A new page of ``browser`` (Playwright's), with its requests and errors recorded."""
    page = browser.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    return Watched(page, requests, errors)
