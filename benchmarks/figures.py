"""One benchmark figure: a measurement, the baseline it is compared with, and its target."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any


def finite_or_none(x: float) -> float | None:
    """``x`` as JSON can hold it: a non-finite number is no number at all (``null``)."""
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class Figure:
    """``value / baseline`` compared with ``target`` (``higher`` says which way is better).

    A *comparative* figure's baseline is measured in the same run. An *absolute* figure
    (``absolute=True``) divides by a constant (1, a ceiling, a threshold): it is labelled
    so wherever it is shown, since it says nothing about the raw stack on this machine.

    A figure that could not be measured (no blocks seen, did not finish, a baseline of 0
    or infinity, a NaN anywhere) is *not measured*: ``unmeasured`` gives the benchmark's
    own reason, and a figure whose numbers cannot make a ratio gets one here. It has no
    ratio and is never met: a division by infinity must not pass for 0, well within any
    "at most" target.

    A figure measured in rounds keeps each round's own ratio (``per_round``: candidate and
    baseline measured minutes apart at most) and its ratio is their median: on a machine
    whose speed drifts, that compares like with like, where the ratio of two medians may
    pair a fast minute with a slow one.
    """

    name: str
    value: float
    baseline: float
    unit: str
    target: float
    higher: bool = True
    note: str = ""
    per_round: tuple[float, ...] = ()
    absolute: bool = False
    unmeasured: str = ""

    @property
    def why_unmeasured(self) -> str:
        """Why this figure has no ratio ("" when it has one)."""
        if self.unmeasured:
            return self.unmeasured
        if not math.isfinite(self.value):
            return f"value is {self.value}"
        if not math.isfinite(self.baseline):
            return f"baseline is {self.baseline}"
        if self.baseline == 0:
            return "baseline is 0"
        if not all(math.isfinite(r) for r in self.per_round):
            return "a round's ratio is not a number"
        return ""

    @property
    def measured(self) -> bool:
        return not self.why_unmeasured

    @property
    def ratio(self) -> float | None:
        """The figure (``None`` when it was not measured)."""
        if not self.measured:
            return None
        if self.per_round:
            return statistics.median(self.per_round)
        return self.value / self.baseline

    @property
    def met(self) -> bool:
        ratio = self.ratio
        if ratio is None:
            return False
        return ratio >= self.target if self.higher else ratio <= self.target

    def as_dict(self) -> dict[str, Any]:
        """The figure as ``benchmarks/results/*.json`` records it (``record.FigureRecord``)."""
        fields = asdict(self)
        return {
            **fields,
            "value": finite_or_none(self.value),
            "baseline": finite_or_none(self.baseline),
            "per_round": [finite_or_none(r) for r in self.per_round],
            "unmeasured": self.why_unmeasured,
            "measured": self.measured,
            "ratio": self.ratio,
            "met": self.met,
        }


def timed(run: Callable[[], object]) -> float:
    """Seconds one call of ``run`` takes."""
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def rate(count: int, run: Callable[[], object]) -> float:
    """Items per second of one call of ``run`` that processes ``count`` items."""
    started = time.perf_counter()
    run()
    return count / (time.perf_counter() - started)


class Rounds:
    """Samples of several candidates taken in turns, round after round.

    Each round runs every candidate once, in alternating order (forward, then reversed;
    or, with ``rotate``, each round starting one further on: ABC, BCA, CAB), so that drift
    in the machine's speed hits every candidate alike and none always runs just after the
    same other one (whose leftover work it would pay for).
    """

    def __init__(
        self,
        rounds: int,
        candidates: dict[str, Callable[[], float]],
        settle_s: float = 0.0,
        *,
        rotate: bool = False,
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
            order = order[1:] + order[:1] if rotate else order[::-1]

    @classmethod
    def of(cls, samples: dict[str, list[float]]) -> Rounds:
        """Rounds whose samples were taken elsewhere (a second figure of the same runs)."""
        measured = cls(0, {})
        measured.samples = {name: list(values) for name, values in samples.items()}
        return measured

    def median(self, name: str) -> float:
        return statistics.median(self.samples[name])

    def figure(
        self,
        name: str,
        candidate: str,
        baseline: str,
        unit: str,
        target: float,
        *,
        higher: bool = True,
    ) -> Figure:
        """``candidate`` against ``baseline``: the median of their per-round ratios, met
        at or above ``target`` (or at or below it, ``higher=False``: times, counts)."""
        return paired(
            name, self.samples[candidate], self.samples[baseline], unit, target, higher=higher
        )


def spread(ratios: Sequence[float]) -> str:
    """What a figure measured in rounds says of them: how many, and the range of their
    ratios (the rounds that gave none are counted, not ranged)."""
    finite = [r for r in ratios if math.isfinite(r)]
    if not finite:
        return f"no ratio in {len(ratios)} rounds"
    span = f"{min(finite):.3f}-{max(finite):.3f}"
    if len(finite) < len(ratios):
        return f"{len(finite)} of {len(ratios)} rounds gave a ratio ({span})"
    return f"median of {len(ratios)} per-round ratios ({span})"


def paired(
    name: str,
    candidate: Sequence[float],
    baseline: Sequence[float],
    unit: str,
    target: float,
    *,
    higher: bool = True,
) -> Figure:
    """``candidate`` against ``baseline``, sampled side by side in the same rounds: the
    median of their per-round ratios, their spread in the note."""
    ratios = tuple(c / b if b else math.nan for c, b in zip(candidate, baseline, strict=True))
    return Figure(
        name,
        statistics.median(candidate),
        statistics.median(baseline),
        unit,
        target,
        higher=higher,
        note=spread(ratios),
        per_round=ratios,
    )


def of_rounds(rounds: Sequence[Figure]) -> Figure:
    """One figure from the same figure measured once in each round (a run whose baseline
    is its own, as a makespan against the oracle of its own blocks).

    Its ratio is the median of the rounds' ratios, its value and baseline the medians of
    theirs, its note their spread, then each round's own note. It is measured only when
    every round was: a round that did not finish is not a slow sample that a median may
    outvote, and the figure says which rounds gave no ratio and why.
    """
    first = rounds[0]
    if any(f.name != first.name for f in rounds):
        raise ValueError(f"rounds of different figures: {sorted({f.name for f in rounds})}")
    ratios = tuple(math.nan if f.ratio is None else f.ratio for f in rounds)
    notes = [f"Round {i}: {f.note}" for i, f in enumerate(rounds, 1) if f.note]
    missing = [f"round {i}: {f.why_unmeasured}" for i, f in enumerate(rounds, 1) if not f.measured]
    return replace(
        first,
        value=_median([f.value for f in rounds]),
        baseline=_median([f.baseline for f in rounds]),
        note=". ".join([spread(ratios), *notes]),
        per_round=ratios,
        unmeasured="; ".join(missing),
    )


def _median(samples: Sequence[float]) -> float:
    """The median of the finite ``samples`` (NaN when there is none)."""
    finite = [x for x in samples if math.isfinite(x)]
    return statistics.median(finite) if finite else math.nan
