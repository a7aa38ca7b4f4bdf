"""Print how many inputs each fuzzed boundary was tried with."""

from __future__ import annotations

import pytest

from tests.fuzz.profiles import PROFILE, TRIED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TRIED:
        terminalreporter.section(f"fuzz inputs tried per boundary ({PROFILE})")
        for boundary, count in sorted(TRIED.items()):
            terminalreporter.write_line(f"{boundary:32} {count}")
