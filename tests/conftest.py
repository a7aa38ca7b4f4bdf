"""Shared test setup.

Tasks in these tests are plain functions defined in test modules; the SDK serialises
them by reference, so worker processes (local, or Slurm jobs, which inherit this
environment) must be able to import ``tests.*`` exactly as this process does.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
)

pytest_plugins: list[str] = [
    "chiltepin.cluster.pytest_plugin",
    "chiltepin.testing.pytest_plugin",
]
