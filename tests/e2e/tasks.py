"""Functions the end-to-end tests run on endpoints (importable on workers as tests.*)."""

from __future__ import annotations

import os


def slurm_identity(x: int) -> dict[str, object]:
    return {
        "value": x + 100,
        "job": os.environ.get("SLURM_JOB_ID"),
        "node": os.environ.get("SLURMD_NODENAME"),
        "partition": os.environ.get("SLURM_JOB_PARTITION"),
    }


def noop(x: int) -> int:
    return x
