"""Counting a journal's task lines, for tests that check nothing was submitted."""

from __future__ import annotations

from pathlib import Path

from chiltepin.federation.journal_format import ATTEMPT, DONE, TASK

_ABOUT_TASKS = tuple(f'{{"e":"{kind}",'.encode() for kind in (TASK, ATTEMPT, DONE))


def task_lines(journal: Path) -> int:
    """The journal's lines about tasks (submitted, placed, settled); not the run's own
    (live status, site health, pre-flight answers, a function's text the first time it is
    serialised), which it writes as they come, whatever a test submits."""
    return sum(line.startswith(_ABOUT_TASKS) for line in journal.read_bytes().splitlines())
