"""What a person sees: a live progress bar with per-site counts, then a summary table.

Shown only on an interactive terminal (or when asked); pipelines and CI logs stay quiet
until the summary, which any caller can print.
"""

from __future__ import annotations

import sys
import threading

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chiltepin.federation.stats import RunStats, SiteCounts

#: The summary's count columns, in order, as :class:`SiteCounts` fields.
COUNTS = ("tasks", "succeeded", "failed", "retries", "failovers", "late", "raced", "duplicates")
HEADERS = {"late": "late results"}


def summary_table(counts: list[SiteCounts], title: str = "Run summary") -> Table:
    table = Table(title=title)
    table.add_column("site", justify="left")
    for field in COUNTS:
        table.add_column(HEADERS.get(field, field), justify="right")
    for c in counts:
        table.add_row(c.site, *(str(getattr(c, field)) for field in COUNTS))
    total = [sum(getattr(c, field) for c in counts) for field in COUNTS]
    table.add_row("[bold]all", *(f"[bold]{v}" for v in total))
    return table


class LiveProgress:
    """A rich progress bar refreshed from :class:`RunStats` on a background thread."""

    def __init__(self, stats: RunStats, console: Console | None = None) -> None:
        self._stats = stats
        self._console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]fanout"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[sites]}"),
            TimeElapsedColumn(),
            console=self._console,
            transient=False,
        )
        self._bar = self._progress.add_task("fanout", total=0, sites="")
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._refresh, name="chiltepin-progress", daemon=True
        )

    @staticmethod
    def wanted(explicit: bool | None) -> bool:
        return explicit if explicit is not None else sys.stderr.isatty()

    def start(self) -> None:
        self._progress.start()
        self._thread.start()

    def _update(self) -> None:
        counts = self._stats.snapshot()
        sites = "  ".join(
            f"{c.site} {c.succeeded}✓ {c.running}▶" + (f" {c.failed}✗" if c.failed else "")
            for c in counts
        )
        self._progress.update(
            self._bar, total=self._stats.total, completed=self._stats.finished, sites=sites
        )

    def _refresh(self) -> None:
        while not self._stop.wait(0.25):
            self._update()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._update()
        self._progress.stop()
