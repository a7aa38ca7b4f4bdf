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
    the ratio. A figure measured in rounds keeps each round's own ratio (``per_round``:
    candidate and baseline measured minutes apart at most) and its ratio is their median:
    on a machine whose speed drifts, that compares like with like, where the ratio of two
    medians may pair a fast minute with a slow one.
    """

    name: str
    value: float
    baseline: float
    unit: str
    target: float
    higher: bool = True
    note: str = ""
    per_round: tuple[float, ...] = ()

    @property
    def ratio(self) -> float:
        if self.per_round:
            return statistics.median(self.per_round)
        return self.value / self.baseline if self.baseline else float("inf")

    @property
    def met(self) -> bool:
        return self.ratio >= self.target if self.higher else self.ratio <= self.target

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


def timed(run: Callable[[], object]) -> float:
    """Seconds one call of ``run`` takes."""
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def rate(count: int, run: Callable[[], None]) -> float:
    """Items per second of one call of ``run`` that processes ``count`` items."""
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


class Rounds:
    """Samples of several candidates taken in turns, round after round.

    Each round runs every candidate once, in alternating order (forward, then reversed),
    so that drift in the machine's speed hits every candidate alike and none always runs
    just after the same other one (whose leftover work it would pay for).
    """

    def __init__(
        self, rounds: int, candidates: dict[str, Callable[[], float]], settle_s: float = 0.0
    ) -> None:
        """``settle_s`` is waited before every measurement: through a rate-limited
        service, each candidate then starts with the same empty request window instead of
        inheriting the requests of the one measured just before it."""
        self.samples: dict[str, list[float]] = {name: [] for name in candidates}
        order = list(candidates)
        for _ in range(rounds):
            for name in order:
                time.sleep(settle_s)
                self.samples[name].append(candidates[name]())
            order.reverse()

    def median(self, name: str) -> float:
        return statistics.median(self.samples[name])

    def figure(self, name: str, candidate: str, baseline: str, unit: str, target: float) -> Figure:
        """``candidate`` against ``baseline``: the median of their per-round ratios."""
        ratios = tuple(
            c / b for c, b in zip(self.samples[candidate], self.samples[baseline], strict=True)
        )
        return Figure(
            name,
            self.median(candidate),
            self.median(baseline),
            unit,
            target,
            note=f"median of {len(ratios)} per-round ratios ({min(ratios):.3f}-{max(ratios):.3f})",
            per_round=ratios,
        )
