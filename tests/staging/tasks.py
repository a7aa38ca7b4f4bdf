"""Task functions for the federation staging tests (imported on workers as tests.*)."""

from __future__ import annotations

import time
from pathlib import Path


def combine(shared: str, own: str, out: str, ledger: str) -> str:
    """Read the shared and the task's own input, write the output, note the execution."""
    time.sleep(0.2)
    text = (Path(shared).read_text() + Path(own).read_text()).upper()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text)
    with open(ledger, "a") as f:
        f.write(Path(out).name + "\n")
    return Path(out).name


def size(path: str) -> int:
    """The size of a staged input (the memory test's task: as little work as possible)."""
    return Path(path).stat().st_size
