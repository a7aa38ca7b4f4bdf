"""Measured comparisons: each figure is a ratio against a baseline measured in the same run.

Task functions live in these modules and are serialised by reference, so workers (local,
Slurm jobs, endpoints started from here) must import ``benchmarks.*`` as this process does.
"""

import os
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[1])
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (_REPO, os.environ.get("PYTHONPATH", "")) if p
)
