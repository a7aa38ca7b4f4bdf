"""Resilience scenarios (issue 6): the failures that wreck long HPC runs, for real.

Every scenario runs real endpoints, configured and started by chiltepin's own
``configure``/``start`` (``chiltepin.testing.site_endpoint``) from the shipped ``docker``
site, reached through the local Globus stand-in, running their blocks as Slurm jobs on a
single-host cluster of their own. Faults are real too: slurmd and job steps SIGKILLed,
worker pools SIGSTOPped, Slurm's own time limit, ``chiltepin endpoint stop``/``start``,
the broker and the HTTP service made unavailable.

Times are scaled down about 30x from the shipped HPC defaults (worker heartbeat 1 s
instead of 30 s, ...) so each scenario takes well under a minute; Slurm's walltime
cannot be scaled (see ``test_walltime.py``).

Each scenario asserts 0 lost and 0 duplicated results against a ledger the tasks write
themselves and against the run journal, checks that nothing it started is left (Slurm
jobs, job steps, interchanges, user endpoints), and reports the time from fault to
recovery in the summary printed at the end of the session.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from chiltepin.cluster.cluster import SlurmCluster
from chiltepin.federation import Federation
from chiltepin.federation.journal import events, read_journal
from chiltepin.federation.journal_format import DoneEvent
from chiltepin.system.waiting import wait_until
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint, start_site_endpoint, stop_site_endpoint

#: The shipped HPC tolerance (endpoints/hera.yaml) with times scaled 30x down: heartbeat
#: every 1 s instead of 30 s, workers lost after 12 s instead of 360 s. Not scaled: the
#: endpoint heartbeat (Globus Compute's minimum is 5 s), drain_margin (Slurm's shortest
#: walltime is a minute; see test_walltime.py), retries (a count). Idle user endpoints
#: exit after two idle heartbeats (10 s) so a scenario's blocks are released quickly; the
#: endpoint keeps a start request for a shutting-down user endpoint 4 s (30 s upstream),
#: which the site model requires to be at most half the idle exit (test_zombies.py).
ENDPOINT_HEARTBEAT_S = 5
#: How long a scenario waits for its first tasks to run on a cold site: the user endpoint
#: starts, its engine starts, Slurm starts the first block and its workers register.
#: About 10 s on a quiet 2-core host; 120 s was exceeded on one at load 12 (a user
#: endpoint 60 s to its engine, a block's manager 60 s to register). pytest-timeout's
#: 300 s per test still bounds the whole scenario.
COLD_START_S = 200
SITE_TOLERANCE = (
    "tolerance.worker_heartbeat_period=1",
    "tolerance.worker_heartbeat_threshold=12",
    "tolerance.drain_margin=20",
    f"tolerance.endpoint_heartbeat_period={ENDPOINT_HEARTBEAT_S}",
    "tolerance.idle_heartbeats_soft=2",
    "tolerance.start_grace_period=4",
    "tolerance.strategy_period=0.5",
    "tolerance.max_retries_on_system_failure=2",
    "max_idletime=2",
)
#: The same with Parsl's and Globus Compute's own threshold (120 s), scaled the same way.
UPSTREAM_TOLERANCE = tuple(
    "tolerance.worker_heartbeat_threshold=4" if o.startswith("tolerance.worker_heartbeat_th") else o
    for o in SITE_TOLERANCE
)

#: What each scenario measured, printed at the end of the session.
REPORT: list[dict[str, Any]] = []
#: Every endpoint stop and what it left (the zombie check after each scenario).
STOPS: list[dict[str, Any]] = []


def report(
    scenario: str,
    fault: str,
    recovery_s: float | None,
    *,
    lost: int,
    duplicated: int,
    reran: int = 0,
    **extra: Any,
) -> None:
    """Record (and print) one scenario's outcome.

    ``lost``: tasks without a result; ``duplicated``: tasks whose result reached the
    caller (journal) more than once; ``reran``: tasks that completed more than once on
    the workers (their extra results were dropped, but the work was done twice).
    """
    row = {
        "scenario": scenario,
        "fault": fault,
        "recovery_s": None if recovery_s is None else round(recovery_s, 1),
        "lost": lost,
        "duplicated": duplicated,
        "reran": reran,
        **extra,
    }
    REPORT.append(row)
    print(f"[resilience] {json.dumps(row)}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not REPORT and not STOPS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("resilience: time from fault to recovery")
    write(f"{'scenario':<38} {'recovery':>9} {'lost':>5} {'dup':>4} {'reran':>6}  fault")
    for row in REPORT:
        rec = row["recovery_s"]
        shown = f"{rec:8.1f}s" if isinstance(rec, int | float) else f"{'-':>9}"
        write(
            f"{row['scenario']:<38} {shown} {row['lost']:>5} {row['duplicated']:>4}"
            f" {row['reran']:>6}  {row['fault']}"
        )
    if STOPS:
        write(
            f"zombie check: {len(STOPS)} endpoint stops after scenarios left"
            f" {sum(s['left'] for s in STOPS)} processes/jobs/job steps"
            f" (jobs running at stop: {sum(s['jobs_at_stop'] for s in STOPS)};"
            f" slowest stop {max(s['seconds'] for s in STOPS):.1f} s)"
        )


# --- the ledger ----------------------------------------------------------------------------


class Ledger:
    """What the tasks themselves say happened (see ``tests/resilience/tasks.py``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def __str__(self) -> str:
        return str(self.path)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        lines = self.path.read_text().splitlines()
        events = [json.loads(line) for line in lines if line.strip()]
        return [e for e in events if kind is None or e["ev"] == kind]

    def done_counts(self) -> Counter[int]:
        return Counter(e["i"] for e in self.events("done"))

    def lost(self, expected: range) -> list[int]:
        done = self.done_counts()
        return [i for i in expected if done[i] == 0]

    def duplicated(self) -> list[int]:
        return sorted(i for i, n in self.done_counts().items() if n > 1)

    def wait(self, predicate: Callable[[Ledger], bool], timeout: float, what: str) -> float:
        """Wait until ``predicate(self)``; return the time it held (``time.time()``)."""
        wait_until(lambda: predicate(self), timeout, what=what)
        return time.time()


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.jsonl")


def journal_counts(run_dir: Path) -> tuple[int, int, int]:
    """From the run journal: (tasks with an outcome, of which successes, tasks whose
    outcome was recorded more than once)."""
    record = read_journal(run_dir)
    outcomes = [t.outcome for t in record.tasks.values() if t.outcome is not None]
    recorded = Counter(e.id for e in events(run_dir) if isinstance(e, DoneEvent))
    twice = sum(n > 1 for n in recorded.values())
    return len(outcomes), sum(o.ok for o in outcomes), twice


def assert_exactly_once(
    results: list[Any],
    expected: range,
    *,
    ledger: Ledger,
    run_dir: Path,
    scenario: str,
    fault: str,
    recovery_s: float | None,
    work_may_repeat: bool = False,
) -> None:
    """Report the scenario, then assert that every task's result reached the caller
    exactly once: ``results`` are ``expected`` in order, the ledger has every task done,
    and the journal has one successful outcome per task, none recorded twice.

    The report comes first so that a failing scenario still shows its counts. Unless
    ``work_may_repeat`` (a fault whose recovery reruns tasks on other workers), no task
    may have run to completion twice on the workers either.
    """
    lost, reran = ledger.lost(expected), ledger.duplicated()
    outcomes, successes, twice = journal_counts(run_dir)
    report(scenario, fault, recovery_s, lost=len(lost), duplicated=twice, reran=len(reran))
    assert results == list(expected)
    assert lost == [] and twice == 0
    if not work_may_repeat:
        assert reran == []
    assert (outcomes, successes) == (len(expected), len(expected))


def managers_lost_at(site: ResilienceSite, since: float, until: float) -> list[float]:
    """When the site's interchanges declared a manager (a block's worker pool) lost,
    between two times (``time.time()``): Parsl's "Too many heartbeats missed"."""
    times = []
    for line in site.interchange_logs().splitlines():
        if "Too many heartbeats missed" in line:
            stamp = float(line.split(" ", 1)[0])
            if since <= stamp <= until:
                times.append(stamp)
    return sorted(times)


# --- processes of a site ----------------------------------------------------------------------


def job_of(pid: int) -> str | None:
    """The Slurm job a process belongs to (its ``SLURM_JOB_ID``), if any."""
    try:
        return psutil.Process(pid).environ().get("SLURM_JOB_ID")
    except psutil.Error:
        return None


def worker_processes(cluster: SlurmCluster, nodes: list[str] | None = None) -> dict[str, set[int]]:
    """Worker-pool processes (the block's step tasks, not ``slurmstepd``) by Slurm job."""
    by_job: dict[str, set[int]] = {}
    for pid in cluster.step_processes(nodes):
        try:
            if psutil.Process(pid).name() == "slurmstepd":
                continue
        except psutil.NoSuchProcess:
            continue
        job = job_of(pid)
        if job is not None:
            by_job.setdefault(job, set()).add(pid)
    return by_job


@dataclass
class ResilienceSite:
    """One site: a real endpoint on its own single-host Slurm cluster."""

    name: str
    cluster: SlurmCluster
    standin: GlobusStandIn
    root: Path
    overrides: tuple[str, ...]
    endpoint: SiteEndpoint = field(init=False)
    _log_from: int = field(init=False, default=0)

    def start(self) -> ResilienceSite:
        log = self.root / self.name / "endpoint.log"  # kept across scenarios of one name
        self._log_from = log.stat().st_size if log.exists() else 0
        self.endpoint = start_site_endpoint(
            self.name,
            "docker",
            self.standin,
            root=self.root,
            overrides=(f"partition={self.cluster.spec.partition}", *self.overrides),
            environment=self.cluster.env(),
        )
        return self

    @property
    def endpoint_id(self) -> str:
        return self.endpoint.endpoint_id

    def user_endpoint_starts(self, timeout: float = 30.0) -> int:
        """How many user endpoints the endpoint started in this scenario, once it has
        reaped every one that exited (a start it makes for a cached request follows that
        reaping at once). Read from the endpoint's own log, which says each."""
        log = self.root / self.name / "endpoint.log"

        def lines(marker: str) -> int:
            with log.open("rb") as f:
                f.seek(self._log_from)
                return f.read().decode(errors="replace").count(marker)

        wait_until(
            lambda: (
                lines("Command stopped normally") + lines("Command terminated by signal")
                >= lines("Creating new user endpoint") - len(self.processes()["user_endpoints"])
            ),
            timeout,
            interval=0.5,
        )
        return lines("Creating new user endpoint")

    def entry(self, options: dict[str, Any] | None = None, grace_s: float = 60.0) -> dict:
        """This site as a Federation sites entry (``options``: user endpoint options)."""
        return {
            "endpoint_id": self.endpoint_id,
            "site": "docker",
            "set": list(self.overrides),
            "options": options or {},
            "offline_grace_s": grace_s,
        }

    def federation(
        self,
        run_dir: Path,
        options: dict[str, Any] | None = None,
        grace_s: float = 60.0,
        **kwargs: Any,
    ) -> Federation:
        kwargs.setdefault("status_poll_s", 1)
        return Federation(
            {self.name: self.entry(options, grace_s)}, run_dir=run_dir, progress=False, **kwargs
        )

    # -- what runs --------------------------------------------------------------------

    def user_endpoint_dirs(self) -> list[Path]:
        home = Path(os.environ["HOME"]) / ".globus_compute"
        return sorted(home.glob(f"uep.{self.endpoint_id}.*"))

    def interchange_logs(self) -> str:
        """Every interchange log of this site's user endpoints, concatenated."""
        return "\n".join(
            p.read_text(errors="replace")
            for d in self.user_endpoint_dirs()
            for p in d.glob("*/interchange.log")
        )

    def processes(self) -> dict[str, list[int]]:
        """The endpoint's live process tree: user endpoints and interchanges."""
        self.endpoint.remember_processes()
        found: dict[str, list[int]] = {"user_endpoints": [], "interchanges": [], "other": []}
        for pid in self.endpoint.leftovers():
            try:
                title = " ".join(psutil.Process(pid).cmdline())
            except psutil.NoSuchProcess:
                continue
            if "_start-user-endpoint" in title or title.startswith("Globus Compute Endpoint ("):
                found["user_endpoints"].append(pid)
            elif "interchange" in title:
                found["interchanges"].append(pid)
            else:
                found["other"].append(pid)
        return found

    def running_jobs(self) -> list[str]:
        return [j["id"] for j in self.cluster.jobs() if j["state"] in ("RUNNING", "COMPLETING")]

    def wait_until_released(self, timeout: float = 60.0) -> float:
        """Wait until the user endpoints have gone idle and exited, and with them every
        block: no Slurm job, no job step (worker pool), no interchange, no user endpoint
        left, only the endpoint itself. Returns the seconds it took."""
        started = time.monotonic()

        def released() -> bool:
            procs = self.processes()
            busy = procs["user_endpoints"] or procs["interchanges"]
            return not busy and not self.cluster.jobs() and not self.cluster.step_processes()

        if not wait_until(released, timeout, interval=0.5):
            raise AssertionError(
                f"{self.name}: left behind {timeout:.0f} s after the run: processes"
                f" {self.processes()}, Slurm jobs {self.cluster.jobs()},"
                f" job steps {sorted(self.cluster.step_processes())}"
            )
        return time.monotonic() - started

    def stop_and_check(self) -> None:
        """``chiltepin endpoint stop`` leaves no process, Slurm job or job step behind."""
        started = time.monotonic()
        jobs = len(self.cluster.jobs())
        left = stop_site_endpoint(self.endpoint)
        wait_until(
            lambda: not (self.cluster.jobs() or self.cluster.step_processes()), 30, interval=0.5
        )
        leftovers = {
            "processes": left,
            "jobs": [j["id"] for j in self.cluster.jobs()],
            "job steps": sorted(self.cluster.step_processes()),
        }
        STOPS.append(
            {
                "site": self.name,
                "jobs_at_stop": jobs,
                "seconds": time.monotonic() - started,
                "left": sum(len(v) for v in leftovers.values()),
            }
        )
        assert not any(leftovers.values()), f"{self.name}: left after stop: {leftovers}"


class SiteFactory:
    """Starts sites, each on a single-host cluster of its own kept for the package."""

    def __init__(self, standin: GlobusStandIn, clusters: Any) -> None:
        self.standin = standin
        self.clusters = clusters
        self.root = Path(os.environ["GLOBUS_COMPUTE_USER_DIR"])

    @contextmanager
    def running(
        self, name: str, overrides: tuple[str, ...] = SITE_TOLERANCE
    ) -> Iterator[ResilienceSite]:
        """A freshly started endpoint for one scenario, stopped and checked afterwards.

        The check is the zombie scenario, after every scenario: ``chiltepin endpoint
        stop`` must leave no process the endpoint started (user endpoints, interchanges),
        no Slurm job and no job step (worker pool) behind, whatever the fault did.
        """
        cluster = self.clusters(f"res-{name}", nodes=3)
        site = ResilienceSite(name, cluster, self.standin, self.root, overrides).start()
        try:
            yield site
        finally:
            site.stop_and_check()


@pytest.fixture(scope="package")
def site_factory(globus_standin: GlobusStandIn, slurm_cluster_factory: Any) -> SiteFactory:
    return SiteFactory(globus_standin, slurm_cluster_factory)


@pytest.fixture
def site(site_factory: SiteFactory) -> Iterator[ResilienceSite]:
    """A site with the shipped tolerance (scaled), for one scenario."""
    with site_factory.running("site") as running:
        yield running


@pytest.fixture
def upstream_site(site_factory: SiteFactory) -> Iterator[ResilienceSite]:
    """The same site with the upstream heartbeat threshold (scaled), for one scenario."""
    with site_factory.running("upstream", UPSTREAM_TOLERANCE) as running:
        yield running
