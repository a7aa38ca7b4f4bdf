"""The MPI check program: a hello from every rank, built with the machine's ``mpicc``.

The self-test runs it as a site's MPI check; the demo and the tests run it too, on the
embedded engine and on Slurm, so it lives here, below them.
"""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from pathlib import Path

from chiltepin.errors import ChiltepinError


def compile_mpi_hello(directory: Path) -> Path:
    """Build the MPI hello program with the machine's ``mpicc``."""
    mpicc = shutil.which("mpicc")
    if mpicc is None:
        raise ChiltepinError("mpicc not found: install MPICH (apt-get install mpich libmpich-dev)")
    source = resources.files("chiltepin.selftest").joinpath("mpi_hello.c")
    binary = directory / "mpi_hello"
    subprocess.run([mpicc, str(source), "-o", str(binary)], check=True, capture_output=True)
    return binary
