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
from dataclasses import dataclass
from datetime import datetime

from chiltepin.errors import ChiltepinError

DAEMONS = ("slurmctld", "slurmd")
#: Job states after which Slurm's record of a job changes no more.
TERMINAL_JOB_STATES = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "TIMEOUT",
    }
)
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


@dataclass(frozen=True)
class JobRecord:
    """One job as Slurm's controller records it (``scontrol show job -o``).

    ``start`` and ``end`` are Slurm's own times (seconds since the epoch, in the whole
    seconds Slurm keeps), ``None`` when the job never started or has not ended: a pending
    job's StartTime is only the scheduler's forecast, a running job's EndTime its time
    limit, and a job cancelled while pending has both set to the cancel but ran nowhere.
    """

    job_id: str
    state: str
    nodes: int
    start: float | None
    end: float | None


def _seconds(stamp: str | None) -> float | None:
    """``2026-12-07T15:18:17`` (the controller's local time) → seconds since the epoch."""
    try:
        return datetime.fromisoformat(stamp or "").timestamp()
    except ValueError:  # Unknown, None, N/A
        return None


def job_records(output: str) -> list[JobRecord]:
    """Every job of ``scontrol show job -o`` output (``No jobs in the system``: none)."""
    jobs = []
    for job in records(output):
        if "JobId" not in job:
            continue
        state = job.get("JobState", "")
        ran = bool(job.get("BatchHost")) and state != "PENDING"
        jobs.append(
            JobRecord(
                job_id=job["JobId"],
                state=state,
                nodes=int(job.get("NumNodes", "0").split("-")[0] or 0),
                start=_seconds(job.get("StartTime")) if ran else None,
                end=_seconds(job.get("EndTime")) if ran and state in TERMINAL_JOB_STATES else None,
            )
        )
    return jobs
