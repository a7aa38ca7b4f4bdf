"""Slurm's programs: found, run and read one way.

Two clients ask Slurm: the single-host cluster (:class:`~chiltepin.cluster.SlurmCluster`:
its daemons, ``sinfo``, ``squeue``, ``scontrol``...) and the self-test on a real site
(``chiltepin selftest``: partitions, ``MaxTime``, a job's queue wait). Both find the programs,
run them and parse ``scontrol show ... -o`` here.

Debian installs the daemons in ``/usr/sbin``, which is not on a normal user's ``PATH``; looking
there too avoids a confusing "slurmctld not found" on a machine that has Slurm installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping

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
    """A Slurm program is missing (the single-host cluster's, or a site's client commands)."""


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


def require_binary(name: str, hint: str = INSTALL_HINT) -> str:
    """Full path of ``name`` or :class:`SlurmNotInstalled` with ``hint`` (how to get it)."""
    path = find_binary(name)
    if path is None:
        raise SlurmNotInstalled(f"{name} not found; {hint}")
    return path


def run(
    args: list[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    input: str | None = None,
    hint: str = INSTALL_HINT,
) -> subprocess.CompletedProcess[str]:
    """Run Slurm command ``args`` (``sinfo``, ``scontrol``, ``sbatch``...) and capture its
    text output; a non-zero exit is the caller's to judge."""
    return subprocess.run(
        [require_binary(args[0], hint), *args[1:]],
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        check=False,
    )


_FIELD = re.compile(r"(\w+)=(\S*)")


def fields(record: str) -> dict[str, str]:
    """The ``Key=Value`` pairs of one ``scontrol show ... -o`` record (one line)."""
    return dict(_FIELD.findall(record))


def records(output: str) -> list[dict[str, str]]:
    """Every record of ``scontrol show ... -o`` output, one per line."""
    return [fields(line) for line in output.splitlines() if line.strip()]
