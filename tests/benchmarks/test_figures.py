"""A figure is met, missed or not measured, and an absolute one says so: the logic that
decides what ``latest.md`` claims, without running a benchmark."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from benchmarks import render
from benchmarks.figures import Figure, Rounds
from benchmarks.record import FigureRecord


def at_most(value: float, baseline: float, target: float = 1.2, unmeasured: str = "") -> Figure:
    return Figure(
        "makespan / oracle", value, baseline, "s", target, higher=False, unmeasured=unmeasured
    )


def test_met_and_missed_follow_the_ratio_and_its_direction() -> None:
    assert at_most(22.0, 20.0).met
    assert not at_most(30.0, 20.0).met
    faster = Figure("tasks/s", 95.0, 100.0, "tasks/s", 0.9)
    assert faster.ratio == pytest.approx(0.95) and faster.met
    assert not Figure("tasks/s", 80.0, 100.0, "tasks/s", 0.9).met


@pytest.mark.parametrize(
    ("value", "baseline", "why"),
    [
        (30.0, math.inf, "baseline is inf"),
        (30.0, 0.0, "baseline is 0"),
        (30.0, math.nan, "baseline is nan"),
        (math.nan, 20.0, "value is nan"),
        (math.inf, 20.0, "value is inf"),
    ],
)
def test_numbers_that_make_no_ratio_are_not_measured_and_never_met(
    value: float, baseline: float, why: str
) -> None:
    figure = at_most(value, baseline)
    assert not figure.measured
    assert figure.why_unmeasured == why
    assert figure.ratio is None
    assert not figure.met


def test_a_division_by_an_infinite_oracle_is_not_met_against_an_at_most_target() -> None:
    """The bug this replaces: value / inf = 0.0 counted as met against "<= 1.2"."""
    assert not at_most(30.0, math.inf, target=1.2).met


def test_a_reason_given_by_the_benchmark_overrides_good_looking_numbers() -> None:
    figure = at_most(320.0, 22.5, target=100.0, unmeasured="did not finish within 300 s")
    assert not figure.measured and not figure.met
    assert figure.why_unmeasured == "did not finish within 300 s"


def test_rounds_with_a_zero_baseline_give_a_figure_not_measured() -> None:
    samples = iter([1.0, 0.0, 1.0, 2.0])
    rounds = Rounds(2, {"candidate": lambda: next(samples), "baseline": lambda: next(samples)})
    figure = rounds.figure("c / b", "candidate", "baseline", "tasks/s", 0.9)
    assert not figure.measured and not figure.met
    assert figure.why_unmeasured == "a round's ratio is not a number"


@pytest.mark.parametrize(
    ("rotate", "expected"),
    [(False, "abccbaabc"), (True, "abcbcacab")],
)
def test_rounds_alternate_or_rotate_the_order_of_the_candidates(
    rotate: bool, expected: str
) -> None:
    ran: list[str] = []

    def sample(name: str) -> Callable[[], float]:
        def measure() -> float:
            ran.append(name)
            return 1.0

        return measure

    Rounds(3, {n: sample(n) for n in "abc"}, rotate=rotate)
    assert "".join(ran) == expected


def test_the_record_of_a_figure_not_measured_has_no_ratio_and_no_infinity() -> None:
    record = FigureRecord.of(at_most(30.0, math.inf))
    assert record.measured is False and record.ratio is None and record.met is False
    assert record.baseline is None  # JSON holds no Infinity
    assert record.unmeasured == "baseline is inf"


def test_rendering_shows_why_a_figure_was_not_measured() -> None:
    record = FigureRecord.of(at_most(320.0, 22.5, unmeasured="did not finish within 300 s"))
    _, value, baseline, ratio, target, met = render.cells(record, unicode=True)
    assert (value, baseline, ratio, target) == ("320 s", "22.5", "—", "≤ 1.2")
    assert met == "not measured: did not finish within 300 s"


def test_rendering_labels_an_absolute_figure_instead_of_a_same_run_baseline() -> None:
    per_task = FigureRecord.of(
        Figure("journal bytes per task", 263.2, 1.0, "B", 300.0, False, absolute=True)
    )
    ceiling = FigureRecord.of(
        Figure("client RSS (ceiling 300 MB)", 189.0, 300.0, "MB", 1.0, False, absolute=True)
    )
    compared = FigureRecord.of(Figure("tasks/s", 95.0, 100.0, "tasks/s", 0.9))
    assert render.cells(per_task, unicode=True)[2] == "absolute"
    assert render.cells(ceiling, unicode=True)[2] == "absolute: 300"
    assert render.cells(compared, unicode=True)[2] == "100"
    assert render.cells(per_task, unicode=True)[5] == "yes"


def test_rounds_of_samples_taken_elsewhere_give_per_round_ratios() -> None:
    again = Rounds.of({"A": [1.0, 2.0], "B": [2.0, 2.0]})
    assert again.figure("A / B", "A", "B", "s", 1.0).per_round == (0.5, 1.0)
