"""Locate the Slurm programs the single-host cluster runs.

Debian installs the daemons in ``/usr/sbin``, which is not on a normal user's ``PATH``; looking
there too avoids a confusing "slurmctld not found" on a machine that has Slurm installed.
"""

from __future__ import annotations

import os
import shutil

from chiltepin.errors import ChiltepinError

DAEMONS = ("slurmctld", "slurmd")
CLIENTS = ("sinfo", "squeue", "scontrol", "sbatch", "srun", "scancel")
REQUIRED = DAEMONS + CLIENTS

_EXTRA_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")

INSTALL_HINT = (
    "install the Debian packages slurmctld slurmd slurm-client "
    "(`./dev setup` does it), or put Slurm 22.05+ on PATH"
)


class SlurmNotInstalled(ChiltepinError):
    """A Slurm program the single-host cluster needs is missing."""


def find_binary(name: str) -> str | None:
    """Full path of Slurm program ``name`` (PATH first, then the sbin directories)."""
    found = shutil.which(name)
    if found:
        return found
    extra = os.pathsep.join(_EXTRA_DIRS)
    return shutil.which(name, path=extra)


def missing_binaries() -> list[str]:
    """The required Slurm programs that cannot be found."""
    return [name for name in REQUIRED if find_binary(name) is None]


def require_binary(name: str) -> str:
    """Full path of ``name`` or :class:`SlurmNotInstalled` with an install hint."""
    path = find_binary(name)
    if path is None:
        raise SlurmNotInstalled(f"{name} not found; {INSTALL_HINT}")
    return path
