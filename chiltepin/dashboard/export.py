"""One run's dashboard page as a single self-contained HTML file, to attach to an email or
a ticket (``chiltepin report RUN --html``).

It is the run page itself (``static/run.html``) with the stylesheet and script inlined and
the run's data embedded as the JSON the server would send: the script sees the embedded
data and draws it once instead of polling, so the file asks no host anything, not even
its own, and opens from ``file://`` as well as from a mail client's attachment.
"""

from __future__ import annotations

import json
from pathlib import Path

from chiltepin.dashboard.assets import asset
from chiltepin.dashboard.runs import document
from chiltepin.dashboard.view import RunView

REPORT = "report.html"
_STYLESHEET = '<link rel="stylesheet" href="/static/dashboard.css">'
_SCRIPT = '<script src="/static/dashboard.js" defer></script>'
_BODY_END = "</body>"


def _embeddable(text: str) -> str:
    """``text`` safe inside a ``<script>`` element: no ``</script>`` can end it early.

    JSON reads ``\\u003c`` as ``<``; a journal's error message is free text and may
    contain anything, markup included."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _replace_once(page: str, old: str, new: str) -> str:
    if page.count(old) != 1:  # run.html changed shape: fail loudly, not with a page that asks
        raise ValueError(f"run.html must hold {old!r} exactly once")
    return page.replace(old, new)


def render(run_dir: Path) -> str:
    """The self-contained page of the run in ``run_dir`` as it stands in its journal."""
    view = RunView.open(run_dir)
    view.update()
    script = asset("dashboard.js").decode()
    if "</script" in script.lower():
        raise ValueError("dashboard.js cannot be inlined: it holds '</script'")
    data = _embeddable(json.dumps(document(view)))
    page = asset("run.html").decode()
    page = _replace_once(page, _STYLESHEET, f"<style>\n{asset('dashboard.css').decode()}</style>")
    page = _replace_once(page, _SCRIPT, "")
    return _replace_once(
        page,
        _BODY_END,
        f'<script type="application/json" id="run-data">{data}</script>\n'
        f"<script>\n{script}</script>\n{_BODY_END}",
    )


def write_html(run_dir: Path, out: Path | None = None) -> Path:
    """Write the run's page to ``out`` (default ``RUN_DIR/report.html``); return the path."""
    target = out or run_dir / REPORT
    target.write_text(render(run_dir), encoding="utf-8")
    return target
