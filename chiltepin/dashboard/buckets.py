"""Quantities over a run's time in a bounded number of buckets.

A live page plots tasks running per site and throughput over the whole run, whether it
lasted a minute or a week, so the series must not grow with the run: buckets start
:data:`FIRST_WIDTH_S` wide and, when a time beyond :data:`MAX_BUCKETS` of them arrives,
neighbours merge pairwise and the width doubles. Each bucket holds a sum (seconds of task
running, or tasks finished), which merges by adding; rates are read out per bucket.
"""

from __future__ import annotations

from typing import Any

FIRST_WIDTH_S = 1.0
MAX_BUCKETS = 600


class Buckets:
    """Named series of sums over time buckets from ``origin`` (the run's start)."""

    def __init__(self, origin: float) -> None:
        self.origin = origin
        self.width = FIRST_WIDTH_S
        self._sums: dict[str, list[float]] = {}

    def state(self) -> dict[str, Any]:
        """The buckets as JSON-ready values (a saved view, :mod:`.snapshot`)."""
        return {"origin": self.origin, "width": self.width, "sums": self._sums}

    @classmethod
    def of(cls, state: dict[str, Any]) -> Buckets:
        """Buckets as :meth:`state` gave them."""
        buckets = cls(float(state["origin"]))
        buckets.width = float(state["width"])
        buckets._sums = {str(k): [float(x) for x in v] for k, v in state["sums"].items()}
        return buckets

    def _index(self, t: float) -> int:
        """The bucket of time ``t``, coarsening until it fits; times before the origin
        (a worker's clock behind the client's) fall in the first bucket."""
        index = int(max(0.0, t - self.origin) // self.width)
        while index >= MAX_BUCKETS:
            self._coarsen()
            index //= 2
        return index

    def _coarsen(self) -> None:
        self.width *= 2
        for name, sums in self._sums.items():
            self._sums[name] = [sum(sums[i : i + 2]) for i in range(0, len(sums), 2)]

    def _series(self, name: str, length: int) -> list[float]:
        sums = self._sums.setdefault(name, [])
        if len(sums) < length:
            sums.extend([0.0] * (length - len(sums)))
        return sums

    def add(self, name: str, t: float, amount: float = 1.0) -> None:
        """Count ``amount`` at time ``t`` (a task finished)."""
        index = self._index(t)
        self._series(name, index + 1)[index] += amount

    def add_span(self, name: str, start: float, end: float) -> None:
        """Add the seconds of ``[start, end]`` to each bucket it overlaps (a task ran)."""
        start = max(start, self.origin)
        if end <= start:
            return
        last = self._index(end)
        first = self._index(start)
        sums = self._series(name, last + 1)
        for index in range(first, last + 1):
            left = self.origin + index * self.width
            sums[index] += min(end, left + self.width) - max(start, left)

    def rates(self, name: str, length: int) -> list[float]:
        """Series ``name`` per second of bucket, ``length`` buckets long: for a span
        series, the tasks running on average in each bucket; for a count, the rate."""
        sums = self._sums.get(name, [])
        padded = sums + [0.0] * (length - len(sums))
        return [s / self.width for s in padded[:length]]

    @property
    def length(self) -> int:
        """How many buckets the longest series spans."""
        return max((len(s) for s in self._sums.values()), default=0)

    def names(self) -> list[str]:
        return sorted(self._sums)
