"""The committed ``benchmarks/results/*.json`` have the one shape ``run.py`` writes, every
figure's ratio and verdict follow from its numbers, and ``latest.md`` is rendered from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import render
from benchmarks.figures import Figure
from benchmarks.record import FigureRecord, Results, RunRecord

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*.json")), ids=lambda p: p.name)
def test_a_committed_record_validates_and_is_written_as_read(path: Path) -> None:
    text = path.read_text()
    results = Results.model_validate_json(text)
    assert results.runs
    assert results.dumps() == text


def test_latest_md_is_rendered_from_latest_json() -> None:
    results = Results.load(RESULTS / "latest.json")
    assert (RESULTS / "latest.md").read_text() == render.markdown(results)


def run_of(*figures: Figure, crashed: dict[str, str] | None = None) -> RunRecord:
    return RunRecord(
        when="2026-12-07 12:00 UTC",
        machine="x86_64, 2 cores",
        command="./dev bench",
        notes="",
        crashed=crashed or {},
        figures=[FigureRecord.of(f) for f in figures],
    )


def test_a_hand_edit_that_overstates_a_figure_fails_validation() -> None:
    record = FigureRecord.of(Figure("tasks/s", 80.0, 100.0, "tasks/s", 0.9)).model_dump()
    with pytest.raises(ValueError, match="met is True"):
        FigureRecord.model_validate({**record, "met": True})
    with pytest.raises(ValueError, match="ratio"):
        FigureRecord.model_validate({**record, "ratio": 0.95})
    unmeasured = {**record, "measured": False, "unmeasured": "did not finish", "ratio": None}
    with pytest.raises(ValueError, match="never met"):
        FigureRecord.model_validate({**unmeasured, "met": True})


def test_a_new_run_supersedes_only_the_figures_it_measured_again() -> None:
    old = run_of(Figure("a", 1.0, 1.0, "s", 2.0, False), Figure("b", 1.0, 1.0, "s", 2.0, False))
    gone = run_of(Figure("a", 1.5, 1.0, "s", 2.0, False))
    new = run_of(Figure("a", 0.5, 1.0, "s", 2.0, False))
    results = Results(runs=[gone, old]).with_run(new)
    assert [[f.name for f in r.figures] for r in results.runs] == [["a"], ["b"]]
    assert results.runs[0].figures[0].value == 0.5


def test_a_crashed_benchmark_is_shown_as_not_measured() -> None:
    run = run_of(crashed={"placement": "SlurmClusterError: squeue failed"})
    text = render.markdown(Results(runs=[run]))
    assert "- bench_placement: not measured: crashed: SlurmClusterError: squeue failed" in text


def test_run_py_writes_the_record_shape_and_renders_latest_md_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``./dev bench memory failover`` with the benchmarks replaced: one gives a figure,
    one crashes; what run.py writes validates, and latest.md is the record rendered."""
    import types

    from benchmarks import run

    def crash() -> list[Figure]:
        raise RuntimeError("squeue failed")

    modules = {
        "benchmarks.bench_memory": types.SimpleNamespace(
            run=lambda: [Figure("rss", 189.0, 300.0, "MB", 1.0, False, absolute=True)]
        ),
        "benchmarks.bench_failover": types.SimpleNamespace(run=crash),
    }
    monkeypatch.setattr(run.importlib, "import_module", modules.__getitem__)
    assert run.main(["memory", "failover", "--output", str(tmp_path)]) == 1
    results = Results.model_validate_json((tmp_path / "latest.json").read_text())
    (only,) = results.runs
    assert only.command == "./dev bench memory failover"
    assert [f.name for f in only.figures] == ["rss"] and only.figures[0].met
    assert only.crashed == {"failover": "RuntimeError: squeue failed"}
    assert (tmp_path / "latest.md").read_text() == render.markdown(results)


def test_the_readme_s_headline_figures_are_rendered_from_latest_json() -> None:
    results = Results.load(RESULTS / "latest.json")
    readme = (RESULTS.parents[1] / "README.md").read_text()
    assert render.with_headline(readme, results) == readme, "run ./dev bench --render"


def test_the_headline_names_every_missed_or_unmeasured_figure_and_the_newest_only() -> None:
    older = run_of(Figure("journal bytes per task (10 no-ops)", 900.0, 1.0, "B", 300.0, False))
    newer = run_of(
        Figure("journal bytes per task (10 no-ops)", 250.0, 1.0, "B", 300.0, False, absolute=True),
        Figure("tasks/s: a / b", 80.0, 100.0, "tasks/s", 0.9),
        Figure("tasks/s: c / d", 0.0, 100.0, "tasks/s", 0.9, unmeasured="did not finish"),
    )
    block = render.headline(Results(runs=[newer, older]))
    assert "| journal bytes per task (10 no-ops) | 250 B | absolute | 250.000 |" in block
    assert "900" not in block  # superseded by the newer run's figure
    assert "1 of the 3 figures on record meet their target." in block
    assert "Also missing it: tasks/s: a / b (0.8)." in block
    assert "Not measured: tasks/s: c / d (did not finish)." in block


def test_a_readme_without_the_headline_block_is_refused() -> None:
    with pytest.raises(ValueError, match="no headline block"):
        render.with_headline("# chiltepin\n", Results(runs=[]))
