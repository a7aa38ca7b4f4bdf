"""The run journal: small arguments and results in their lines, large ones beside them."""

from __future__ import annotations

from pathlib import Path

from chiltepin.federation.journal import CALLS, INLINE_MAX, JOURNAL, RESULTS, Journal, read_journal


def test_small_and_large_calls_and_results_read_back(tmp_path: Path) -> None:
    small, large = "00\nsmall", "00\n" + "L" * (INLINE_MAX + 1)
    journal = Journal(tmp_path)
    for task_id, data in (("t1", small), ("t2", large)):
        journal.task(task_id, "f", data, {"site": None})
        journal.attempt(task_id, 1, "a", {"options": {}})
        journal.outcome(task_id, 1, True, data[::-1], "value", {"job": "1"})
    journal.close()

    record = read_journal(tmp_path)
    assert [record.call(record.tasks[t]) for t in ("t1", "t2")] == [small, large]
    assert [record.result(record.tasks[t]) for t in ("t1", "t2")] == [small[::-1], large[::-1]]
    assert record.tasks["t1"].meta["site"] is None and record.tasks["t2"].attempts[0].site == "a"
    # Only the large ones went to the side files; the journal stays small.
    assert (tmp_path / CALLS).stat().st_size == len(large)
    assert (tmp_path / RESULTS).stat().st_size == len(large)
    assert (tmp_path / JOURNAL).stat().st_size < 2 * INLINE_MAX


def test_a_held_task_is_on_disk_before_any_site_takes_it(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.task("t1", "f", "00\nx", {})  # held by late binding: no attempt yet
    record = read_journal(tmp_path)  # what a killed client leaves
    assert record.tasks["t1"].attempts == [] and record.call(record.tasks["t1"]) == "00\nx"
    journal.attempt("t1", 1, "a", {})
    journal.estimates([{"site": "a", "run_s": 1.5}])
    journal.close()
    record = read_journal(tmp_path)
    assert [a.site for a in record.tasks["t1"].attempts] == ["a"]
    assert record.estimates == [{"site": "a", "run_s": 1.5}]
