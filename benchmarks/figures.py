"""One benchmark figure: a measurement, the baseline it is compared with, and its target."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """``value / baseline`` compared with ``target`` (``higher`` says which way is better).

    A figure with no baseline (an absolute count, say) has ``baseline`` 1 and its value is
    the ratio.
    """

    name: str
    value: float
    baseline: float
    unit: str
    target: float
    higher: bool = True
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    @property
    def met(self) -> bool:
        return self.ratio >= self.target if self.higher else self.ratio <= self.target

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


def rate(count: int, run: Callable[[], None]) -> float:
    """Items per second of one call of ``run`` that processes ``count`` items."""
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


def interleaved_medians(
    rounds: int, candidates: dict[str, Callable[[], float]], settle_s: float = 0.0
) -> dict[str, float]:
    """Median of each candidate over ``rounds`` rounds, alternating them within each round
    so that drift in the machine's speed hits every candidate alike.

    ``settle_s`` is waited before every measurement: through a rate-limited service, each
    candidate then starts with the same empty request window instead of inheriting the
    requests of the one measured just before it.
    """
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, measure in candidates.items():
            time.sleep(settle_s)
            samples[name].append(measure())
    return {name: statistics.median(values) for name, values in samples.items()}
