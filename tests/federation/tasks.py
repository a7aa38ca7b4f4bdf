"""Task functions the federation tests send to workers (importable there as tests.*)."""

from __future__ import annotations

import os
import time


def square(x: int) -> int:
    return x * x


def where(x: int) -> tuple[int, int]:
    return x, os.getpid()


def nap(x: int, seconds: float) -> int:
    time.sleep(seconds)
    return x


def fail_once_per_call(x: int) -> None:
    raise ValueError(f"user error {x}")


def count_and_return(path: str, x: int, seconds: float = 0.0) -> int:
    """Append a line per execution, so tests can count how often a task really ran."""
    time.sleep(seconds)
    with open(path, "a") as f:
        f.write(f"{x}\n")
    return x


def paced(x: int, seconds: float) -> int:
    """Sleep ``seconds`` times the worker's CHILTEPIN_TEST_PACE (a site's slowness)."""
    time.sleep(seconds * float(os.environ.get("CHILTEPIN_TEST_PACE", "1")))
    return x


def wait_for(path: str, x: int) -> int:
    """Return ``x`` once ``path`` exists: a task the test releases when it has looked."""
    while not os.path.exists(path):
        time.sleep(0.05)
    return x
