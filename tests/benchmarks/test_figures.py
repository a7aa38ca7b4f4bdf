"""A figure is met, missed or not measured, and an absolute one says so: the logic that
decides what ``latest.md`` claims, without running a benchmark."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks import bench_placement, render
from benchmarks.figures import Figure, Rounds, of_rounds, paired
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


def placement_round(makespan: float, oracle: float, note: str, unmeasured: str = "") -> Figure:
    return Figure(
        "makespan / oracle, equal, 20 x 1 s: soonest",
        makespan,
        oracle,
        "s",
        1.2,
        higher=False,
        note=note,
        unmeasured=unmeasured,
    )


def test_a_figure_of_rounds_is_the_median_of_their_own_ratios_with_its_spread() -> None:
    rounds = [
        placement_round(30.0, 20.0, "oracle 20.0 s"),  # 1.5
        placement_round(22.0, 20.0, "oracle 20.0 s"),  # 1.1
        placement_round(23.0, 20.0, "oracle 20.0 s"),  # 1.15
    ]
    figure = of_rounds(rounds)
    assert figure.per_round == pytest.approx((1.5, 1.1, 1.15))
    assert figure.ratio == pytest.approx(1.15) and figure.met  # not the 1.5 of one round
    assert (figure.value, figure.baseline) == (23.0, 20.0)  # the medians
    assert figure.note.startswith("median of 3 per-round ratios (1.100-1.500). Round 1: oracle")
    assert "Round 3: oracle 20.0 s" in figure.note
    record = FigureRecord.of(figure)
    assert render.cells(record, unicode=True)[3] == "1.150 (1.100-1.500)"


def test_a_figure_of_rounds_with_a_round_not_measured_is_not_measured() -> None:
    """Two rounds well within the target do not outvote one that did not finish."""
    rounds = [
        placement_round(22.0, 20.0, "a"),
        placement_round(320.0, 20.0, "b", unmeasured="did not finish within 300 s"),
        placement_round(21.0, math.inf, "c"),
    ]
    figure = of_rounds(rounds)
    assert not figure.measured and not figure.met and figure.ratio is None
    assert figure.why_unmeasured == (
        "round 2: did not finish within 300 s; round 3: baseline is inf"
    )
    assert figure.note.startswith("1 of 3 rounds gave a ratio (1.100-1.100)")
    record = FigureRecord.of(figure)
    assert record.ratio is None and not record.met
    assert render.cells(record, unicode=True)[3:] == (
        "—",
        "≤ 1.2",
        "not measured: round 2: did not finish within 300 s; round 3: baseline is inf",
    )


def test_rounds_of_different_figures_are_refused() -> None:
    other = replace(placement_round(22.0, 20.0, ""), name="makespan / oracle: capacity")
    with pytest.raises(ValueError, match="rounds of different figures"):
        of_rounds([placement_round(22.0, 20.0, ""), other])


def test_paired_samples_keep_their_direction_and_per_round_ratios() -> None:
    figure = paired(
        "requests", [9.0, 12.0, 10.0], [12.0, 12.0, 10.0], "requests", 1.0, higher=False
    )
    assert figure.per_round == pytest.approx((0.75, 1.0, 1.0))
    assert figure.ratio == 1.0 and figure.met and not figure.higher
    assert figure.note == "median of 3 per-round ratios (0.750-1.000)"


def test_placement_runs_its_paths_in_rotating_rounds_and_reports_each_as_their_median(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench_placement's rounds without Slurm: each path's run replaced by a figure whose
    makespan / oracle is given per path and round."""
    ran: list[tuple[str, str, str]] = []
    ratios = {"soonest": [1.1, 1.3, 1.0], "capacity": [1.4, 1.6, 1.5], "parsl": [1.0, 1.0, 9.0]}

    def one(
        scenario: str, path: str, standin: object, clusters: object, run_dir: Path, tasks: int
    ) -> Figure:
        ran.append((scenario, path, run_dir.name))
        value = 20.0 * ratios[path][sum(p == path for _, p, _ in ran) - 1]
        unmeasured = "did not finish within 300 s" if value > 100 else ""
        name = f"makespan / oracle, {scenario}, {tasks} x 1 s: {path}"
        return Figure(name, value, 20.0, "s", 1.2, higher=False, unmeasured=unmeasured)

    monkeypatch.setattr(bench_placement, "_one", one)
    figures = bench_placement._rounds("site stop", 3, None, {}, tmp_path, 20)  # type: ignore[arg-type]
    assert [p[0] for _, p, _ in ran] == list("scpcpspsc")  # ABC, BCA, CAB
    assert len({run_dir for _, _, run_dir in ran}) == 9  # each run in a directory of its own
    soonest, capacity, parsl = figures
    assert soonest.ratio == pytest.approx(1.1) and soonest.met
    assert soonest.note.startswith("median of 3 per-round ratios (1.000-1.300)")
    assert capacity.ratio == pytest.approx(1.5) and not capacity.met
    assert not parsl.measured and not parsl.met
    assert parsl.why_unmeasured == "round 3: did not finish within 300 s"


def test_the_placement_command_line_wants_at_least_one_round() -> None:
    with pytest.raises(SystemExit):
        bench_placement.main(["--rounds", "0"])


def test_rounds_of_samples_taken_elsewhere_give_per_round_ratios() -> None:
    again = Rounds.of({"A": [1.0, 2.0], "B": [2.0, 2.0]})
    assert again.figure("A / B", "A", "B", "s", 1.0).per_round == (0.5, 1.0)


def test_a_figure_of_rounds_of_times_is_met_at_or_below_its_target() -> None:
    """A makespan ratio (two sites / one) must be judged lower-is-better: 0.8 meets
    "<= 0.95" and 1.01 misses it (a first-minute run once printed the reverse)."""
    faster = Rounds.of({"two": [8.0, 8.2, 7.9], "one": [10.0, 10.0, 10.0]})
    slower = Rounds.of({"two": [10.1, 10.2, 10.0], "one": [10.0, 10.0, 10.0]})
    assert faster.figure("two / one", "two", "one", "s", 0.95, higher=False).met
    assert not slower.figure("two / one", "two", "one", "s", 0.95, higher=False).met
    record = FigureRecord.of(faster.figure("two / one", "two", "one", "s", 0.95, higher=False))
    assert "≤ 0.95" in render.cells(record, unicode=True)
