"""Functions run inside Slurm jobs by the tests (importable on workers as tests.*)."""

from __future__ import annotations

import os


def where_am_i(x: int) -> dict[str, object]:
    return {
        "value": x * 3,
        "job": os.environ.get("SLURM_JOB_ID"),
        "node": os.environ.get("SLURMD_NODENAME"),
    }


def explode() -> None:
    raise RuntimeError("raised inside a Slurm job")
