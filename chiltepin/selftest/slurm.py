"""What the self-test asks Slurm directly: does it accept the site's batch settings, what
does it know about them, and how long did a job wait in the queue."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime

from chiltepin.cluster.binaries import find_binary
from chiltepin.errors import ChiltepinError
from chiltepin.selftest.diagnose import Facts
from chiltepin.sites.model import Site


def _slurm(*args: str) -> subprocess.CompletedProcess[str]:
    path = find_binary(args[0])
    if path is None:
        raise ChiltepinError(f"{args[0]} not found: this site needs Slurm's commands on PATH")
    return subprocess.run(
        [path, *args[1:]], capture_output=True, text=True, check=False, timeout=60
    )


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
        found = re.search(r"\bMaxTime=(\S+)", shown.stdout)
        max_time = found.group(1) if shown.returncode == 0 and found else None
    return Facts(partitions=partitions, partition_max_time=max_time)


def queue_wait(job_id: str) -> float | None:
    """Seconds job ``job_id`` waited between submission and start (``None``: unknown)."""
    shown = _slurm("scontrol", "show", "job", "-o", job_id)
    fields = dict(re.findall(r"(\w+)=(\S*)", shown.stdout))
    try:
        submit = datetime.fromisoformat(fields["SubmitTime"])
        start = datetime.fromisoformat(fields["StartTime"])
    except (KeyError, ValueError):
        return None
    return (start - submit).total_seconds()
