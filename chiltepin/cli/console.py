"""The rich console every command prints through.

Rich assumes 80 columns when output is not a terminal (a CI log, a file), which folds
the per-site tables into unreadable columns; logs get a generous width instead.
"""

from __future__ import annotations

import sys

from rich.console import Console


def console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)
