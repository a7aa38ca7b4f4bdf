"""Workflow tasks (module level, so workers import them as tests.*)."""

from __future__ import annotations

import os

from chiltepin.workflow import bash_task, mpi_task, python_task


@python_task
def add(a: int, b: int) -> int:
    return a + b


@python_task
def pid() -> int:
    return os.getpid()


@bash_task
def write_value(value: int, stdout: str | None = None) -> str:
    return f"echo value={value}"


@mpi_task
def hello(program: str, stdout: str | None = None) -> str:
    return program


@python_task
def paced_site(x: int, seconds: float) -> tuple[int, str]:
    """``x`` after ``seconds`` times the worker's CHILTEPIN_TEST_PACE, and which site ran it
    (the worker's CHILTEPIN_TEST_SITE)."""
    import time

    time.sleep(seconds * float(os.environ.get("CHILTEPIN_TEST_PACE", "1")))
    return x, os.environ.get("CHILTEPIN_TEST_SITE", "?")


@python_task
def total(*parts: tuple[int, str]) -> int:
    return sum(x for x, _ in parts)
