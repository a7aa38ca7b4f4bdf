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


def test_a_task_goes_out_with_its_first_attempt_or_at_close(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.task("t1", "f", "00\nx", {})
    assert (tmp_path / JOURNAL).read_text() == ""  # not yet sent anywhere
    journal.attempt("t1", 1, "a", {})
    lines = (tmp_path / JOURNAL).read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ['{"e":"task"', '{"e":"attempt"']

    journal.task("t2", "f", "00\ny", {})  # no site took it
    journal.close()
    assert "t2" in read_journal(tmp_path).tasks
