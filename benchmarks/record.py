"""The shape of ``benchmarks/results/*.json``, the only record of what was measured.

``run.py`` writes it and ``latest.md`` is rendered from it (``render.py``); a CI test
validates the committed files against these models, so a hand edit that makes a figure
say more than its numbers (a ratio that is not value / baseline, a figure met that misses
its target, a not-measured figure counted as met) fails in seconds.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

from benchmarks.figures import Figure


class FigureRecord(BaseModel):
    """One figure as recorded (``Figure.as_dict``); non-finite numbers are ``null``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    value: float | None
    baseline: float | None
    unit: str
    target: float
    higher: bool
    note: str
    per_round: list[float | None]
    absolute: bool
    unmeasured: str
    measured: bool
    ratio: float | None
    met: bool

    @model_validator(mode="after")
    def _consistent(self) -> FigureRecord:
        if self.measured != (not self.unmeasured):
            raise ValueError("measured must be true exactly when there is no `unmeasured` reason")
        if not self.measured:
            if self.ratio is not None or self.met:
                raise ValueError("a figure not measured has no ratio and is never met")
            return self
        if self.value is None or self.baseline is None or self.ratio is None:
            raise ValueError("a measured figure has a value, a baseline and a ratio")
        rounds = [r for r in self.per_round if r is not None]
        if len(rounds) != len(self.per_round):
            raise ValueError("a measured figure's rounds are all numbers")
        expected = statistics.median(rounds) if rounds else self.value / self.baseline
        if not math.isclose(self.ratio, expected, rel_tol=1e-9):
            raise ValueError(f"ratio {self.ratio} is not {expected} (from the figure's numbers)")
        met = self.ratio >= self.target if self.higher else self.ratio <= self.target
        if self.met != met:
            raise ValueError(f"met is {self.met} but the ratio says {met}")
        return self

    @classmethod
    def of(cls, figure: Figure) -> FigureRecord:
        return cls.model_validate(figure.as_dict())


class RunRecord(BaseModel):
    """One ``./dev bench`` run: when, where, what was asked, and what came of it.

    ``crashed`` names each benchmark that raised instead of giving figures, with its
    error: its figures are not measured, and a reader must see that rather than no row.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: str
    machine: str
    command: str
    notes: str
    crashed: dict[str, str]
    figures: list[FigureRecord]


class Results(BaseModel):
    """Runs, newest first. A figure appears once: a run supersedes the same-named figures
    of the runs before it (:meth:`with_run`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    runs: list[RunRecord]

    def with_run(self, run: RunRecord) -> Results:
        """``run`` first, then the older runs' figures it did not measure again (a run
        left with no figures and no crash is dropped)."""
        names = {f.name for f in run.figures}
        older = []
        for old in self.runs:
            kept = [f for f in old.figures if f.name not in names]
            if kept or old.crashed:
                older.append(old.model_copy(update={"figures": kept}))
        return Results(runs=[run, *older])

    @classmethod
    def load(cls, path: Path) -> Results:
        return cls.model_validate_json(path.read_text()) if path.exists() else cls(runs=[])

    def dumps(self) -> str:
        """The file's text: one shape, so writing what was read changes nothing."""
        return json.dumps(self.model_dump(mode="json"), indent=1, ensure_ascii=False) + "\n"
