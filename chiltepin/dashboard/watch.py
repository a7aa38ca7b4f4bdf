"""The dashboard of one run, served from inside the process that runs it.

Why not ``Federation(dashboard=True)``: the federation sits below the dashboard in the
layers (pyproject.toml's import contracts), so it cannot start one. The code that owns the
run composes them instead, as ``chiltepin demo --dashboard`` does::

    with Federation(sites) as fed, watch(fed):
        ...  # the page of this run is served while the block runs

The page reads the run's journal like any other dashboard, so it spends none of the run's
request budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

from chiltepin.dashboard.runs import Runs
from chiltepin.dashboard.server import Dashboard
from chiltepin.federation import Federation


def run_page_url(dashboard: Dashboard, run: str) -> str:
    """The URL of ``run``'s page, with the dashboard's token."""
    return urlsplit(dashboard.url)._replace(path=f"/run/{quote(run)}").geturl()


@contextmanager
def watch(
    fed_or_run_dir: Federation | Path | str,
    *,
    port: int = 0,
    say: Callable[[str], object] = print,
) -> Iterator[str]:
    """Serve the page of one run (a federation's, or the one in a run directory) on
    127.0.0.1 from a thread while the block runs; ``say`` its URL once, and yield it.

    Only that run is served: its neighbours in the same runs directory are not."""
    run_dir = Path(
        fed_or_run_dir.run_dir if isinstance(fed_or_run_dir, Federation) else fed_or_run_dir
    ).resolve()
    with Dashboard(Runs(run_dir.parent, only=run_dir.name), port=port) as dashboard:
        url = run_page_url(dashboard, run_dir.name)
        say(f"dashboard of this run: {url}")
        yield url
