"""Run a site's self-test: real batch jobs with the site's own settings.

The first thing a user runs on a new machine ("does my site file work here?"). The jobs are
submitted by the same engine a user endpoint of this site would run (rendered from the
site's template, so partition, account, qos, walltime, worker_init and the MPI launcher are
exactly the endpoint's), embedded in this process: no Globus account is needed. Every
failure that the scheduler or the job's output explains is mapped to the fix.
"""

from __future__ import annotations

import re
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from globus_compute_sdk import MPIFunction, ShellFunction

from chiltepin.embedded import EmbeddedEngine
from chiltepin.errors import ChiltepinError
from chiltepin.selftest import slurm
from chiltepin.selftest.diagnose import Facts, diagnose
from chiltepin.selftest.mpi import compile_mpi_hello
from chiltepin.selftest.tasks import where
from chiltepin.sites.model import Scheduler, Site

_RANK_LINE = re.compile(r"^rank (\d+) of (\d+) on (\S+)$", re.M)
_JOB_LINE = re.compile(r"^job=(\S*)$", re.M)


@dataclass
class Check:
    """One row of the self-test's table."""

    name: str
    ok: bool | None = None  # None: not run
    queue_wait: float | None = None
    nodes: list[str] = field(default_factory=list)
    rank_hosts: list[str] = field(default_factory=list)
    detail: str = ""
    fix: str = ""

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "FAIL", None: "not run"}[self.ok]


class _Selftest:
    def __init__(self, site: Site, run_dir: Path, timeout: float) -> None:
        self.site = site
        self.run_dir = run_dir
        self.timeout = timeout
        self.slurm = site.scheduler is Scheduler.slurm
        self.facts = slurm.facts(site) if self.slurm else Facts()

    def fail(self, check: Check, text: str) -> Check:
        """Mark ``check`` failed; name the fix when the text (plus job output) explains it."""
        check.ok = False
        job_output = self.job_output()
        known = diagnose(f"{text}\n{job_output}", self.site, self.facts)
        check.detail = known.problem if known else _last_line(text)
        check.fix = known.fix if known else f"see the job output under {self.run_dir}"
        return check

    def job_output(self) -> str:
        """What the batch jobs printed to stderr (Parsl keeps it next to the job scripts)."""
        files = sorted(self.run_dir.rglob("*.stderr"))
        return "\n".join(f.read_text(errors="replace") for f in files)

    def wait_of(self, job: str | None) -> float | None:
        return slurm.queue_wait(job) if self.slurm and job else None

    def settings(self) -> Check:
        check = Check("batch settings")
        ok, text = slurm.test_only(self.site)
        if not ok:
            return self.fail(check, text)
        check.ok, check.detail = True, _last_line(text)
        return check

    def serial(self) -> list[Check]:
        python, shell = Check("python"), Check("shell")
        # ShellFunction formats its command with str.format: braces are doubled.
        line = "echo ${{SLURM_JOB_ID:-${{PBS_JOBID:-}}}} ${{SLURMD_NODENAME:-$(hostname)}}"
        try:
            with EmbeddedEngine(self.site, {}, run_dir=self.run_dir / "serial") as engine:
                seen = engine.submit(where).result(timeout=self.timeout)
                out = engine.submit(ShellFunction(line)).result(timeout=self.timeout)
        except FutureTimeout:
            return [self.fail(python, f"no result within {self.timeout:g} s"), shell]
        except Exception as err:
            return [self.fail(python, str(err)), shell]
        python.ok = True
        python.nodes = [str(seen["node"])]
        python.queue_wait = self.wait_of(seen["job"])
        python.detail = f"Python {seen['python']} on {seen['host']}, job {seen['job'] or '-'}"
        if out.returncode != 0:
            return [python, self.fail(shell, out.stderr or f"exit {out.returncode}")]
        job, _, node = out.stdout.strip().rpartition(" ")
        shell.ok, shell.nodes = True, [node]
        shell.queue_wait = self.wait_of(job)
        shell.detail = f"job {job or '-'}"
        return [python, shell]

    def mpi(self) -> Check:
        nodes = 1 if self.site.scheduler is Scheduler.local else 2
        check = Check(f"mpi ({nodes} node{'s' if nodes > 1 else ''}, 2 ranks each)")
        try:
            hello = compile_mpi_hello(self.run_dir)
        except (ChiltepinError, OSError) as err:
            check.ok, check.detail = False, str(err)
            check.fix = "load or install an MPI with mpicc (MPICH: apt-get install libmpich-dev)"
            return check
        options: dict[str, Any] = {"mpi": True, "nodes_per_block": nodes}
        spec = {"num_nodes": nodes, "ranks_per_node": 2}
        try:
            with EmbeddedEngine(self.site, options, run_dir=self.run_dir / "mpi") as engine:
                function = MPIFunction(f"{hello}; echo job=$SLURM_JOB_ID")
                result = engine.submit(function, resource_specification=spec).result(
                    timeout=self.timeout
                )
        except FutureTimeout:
            return self.fail(check, f"no result within {self.timeout:g} s")
        except Exception as err:
            return self.fail(check, str(err))
        if result.returncode != 0:
            return self.fail(check, result.stderr or f"exit {result.returncode}")
        ranks = sorted((int(r), host) for r, _, host in _RANK_LINE.findall(result.stdout))
        check.rank_hosts = [host for _, host in ranks]
        check.nodes = sorted(set(check.rank_hosts))
        job = _JOB_LINE.search(result.stdout)
        check.queue_wait = self.wait_of(job.group(1) if job else None)
        check.ok = len(ranks) == 2 * nodes and len(check.nodes) == nodes
        check.detail = f"{len(ranks)} ranks on {len(check.nodes)} node(s)"
        if not check.ok:
            check.fix = "the ranks did not spread over the nodes: check mpi_launcher"
        return check

    def worker_init(self) -> Check:
        check = Check("worker_init")
        if not self.site.worker_init:
            check.ok, check.detail = True, "none set"
            return check
        known = diagnose(self.job_output(), self.site, self.facts)
        if known:
            check.ok, check.detail, check.fix = False, known.problem, known.fix
        else:
            check.ok, check.detail = True, f"{len(self.site.worker_init)} line(s), no errors"
        return check


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def run_selftest(site: Site, run_dir: Path, timeout: float = 600.0) -> list[Check]:
    """Run every check of ``site`` here; jobs' scripts and output stay under ``run_dir``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    test = _Selftest(site, run_dir, timeout)
    checks: list[Check] = []
    if test.slurm:
        checks.append(test.settings())
        if not checks[0].ok:
            names = ("python", "shell", "mpi (2 nodes, 2 ranks each)", "worker_init")
            return checks + [Check(n, detail="batch settings rejected") for n in names]
    checks += test.serial()
    checks.append(test.mpi())
    checks.append(test.worker_init())
    return checks
