"""Print how many inputs each fuzzed boundary was tried with, and how many it accepted."""

from __future__ import annotations

import pytest

from tests.fuzz.profiles import ACCEPTED, PROFILE, TRIED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TRIED:
        terminalreporter.section(f"fuzz inputs tried and accepted per boundary ({PROFILE})")
        for boundary, count in sorted(TRIED.items()):
            accepted = ACCEPTED[boundary]
            terminalreporter.write_line(
                f"{boundary:32} {count:6} tried {accepted:6} accepted ({accepted / count:.0%})"
            )
