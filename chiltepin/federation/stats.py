"""Per-site counters of one run, for the progress display and the closing summary."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass


@dataclass
class SiteCounts:
    """What happened at one site. ``tasks`` counts attempts placed there; ``raced`` those
    started beside an attempt waiting on a site with no workers yet; ``duplicates`` the
    results that came second in such a race (dropped)."""

    site: str
    tasks: int = 0
    succeeded: int = 0
    failed: int = 0
    retries: int = 0
    failovers: int = 0
    late: int = 0
    raced: int = 0
    duplicates: int = 0

    @property
    def running(self) -> int:
        return self.tasks - self.succeeded - self.failed - self.retries - self.duplicates


class RunStats:
    """Thread-safe counters; the federation updates them, displays read them."""

    def __init__(self, sites: list[str]) -> None:
        self._counts = {name: SiteCounts(name) for name in sites}
        self._lock = threading.Lock()
        self.total = 0
        self.refused = 0  # tasks that failed before any site took them: no site to count

    def submitted(self) -> None:
        with self._lock:
            self.total += 1

    def refuse(self) -> None:
        with self._lock:
            self.refused += 1

    def bump(self, site: str, field: str, by: int = 1) -> None:
        with self._lock:
            counts = self._counts[site]
            setattr(counts, field, getattr(counts, field) + by)

    def snapshot(self) -> list[SiteCounts]:
        with self._lock:
            return [SiteCounts(**asdict(c)) for c in self._counts.values()]

    @property
    def finished(self) -> int:
        with self._lock:
            return self.refused + sum(c.succeeded + c.failed for c in self._counts.values())
