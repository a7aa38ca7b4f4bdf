"""What the self-test asks Slurm directly: does it accept the site's batch settings, what
does it know about them, and how long did a job wait in the queue."""

from __future__ import annotations

import subprocess
from datetime import datetime

from chiltepin.cluster import slurm
from chiltepin.selftest.diagnose import Facts
from chiltepin.sites.model import Site


def _slurm(*args: str) -> subprocess.CompletedProcess[str]:
    return slurm.run(list(args), timeout=60, hint="this site needs Slurm's commands on PATH")


def batch_args(site: Site, nodes: int = 1) -> list[str]:
    """The ``sbatch`` options a block of this site asks for (as Parsl's SlurmProvider does)."""
    args = [f"--nodes={nodes}", f"--time={site.walltime}"]
    if site.partition:
        args.append(f"--partition={site.partition}")
    if site.account:
        args.append(f"--account={site.account}")
    if site.qos:
        args.append(f"--qos={site.qos}")
    if site.exclusive:
        args.append("--exclusive")
    return args


def test_only(site: Site, nodes: int = 1) -> tuple[bool, str]:
    """``sbatch --test-only``: the scheduler's verdict on the settings, without a job."""
    result = _slurm("sbatch", "--test-only", *batch_args(site, nodes), "--wrap", "true")
    return result.returncode == 0, (result.stderr + result.stdout).strip()


def facts(site: Site) -> Facts:
    """Partition names and the site partition's MaxTime (empty when Slurm cannot say)."""
    names = _slurm("sinfo", "-h", "-o", "%R")
    partitions = tuple(sorted(set(names.stdout.split()))) if names.returncode == 0 else ()
    max_time = None
    if site.partition:
        shown = _slurm("scontrol", "show", "partition", "-o", site.partition)
        found = slurm.fields(shown.stdout).get("MaxTime")
        max_time = found if shown.returncode == 0 and found else None
    return Facts(partitions=partitions, partition_max_time=max_time)


def queue_wait(job_id: str) -> float | None:
    """Seconds job ``job_id`` waited between submission and start (``None``: unknown)."""
    shown = _slurm("scontrol", "show", "job", "-o", job_id)
    fields = slurm.fields(shown.stdout)
    try:
        submit = datetime.fromisoformat(fields["SubmitTime"])
        start = datetime.fromisoformat(fields["StartTime"])
    except (KeyError, ValueError):
        return None
    return (start - submit).total_seconds()
