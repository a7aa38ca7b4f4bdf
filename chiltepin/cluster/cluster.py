"""A real Slurm cluster on this host: one ``slurmctld`` and N ``slurmd`` fake nodes on 127.0.0.1.

There is no systemd and no cgroup support to lean on, so :class:`SlurmCluster` supervises the
daemons itself: it starts each one in the foreground (``-D``) in its own session, records PID and
start time in ``<dir>/cluster.json``, and stops them strictly by those PIDs (never by name).
Ports are chosen free per cluster, so several independent clusters ("sites") run side by side.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from chiltepin.cluster import slurm
from chiltepin.cluster.config import ClusterSpec, render_slurm_conf
from chiltepin.cluster.ports import LOOPBACK, port_is_free
from chiltepin.cluster.state import (
    ClusterState,
    DaemonRecord,
    load_state,
    locked,
    save_state,
)
from chiltepin.errors import ChiltepinError
from chiltepin.system import processes
from chiltepin.system.files import write_atomically
from chiltepin.system.spawn import Spawned, spawn_detached
from chiltepin.system.waiting import wait_until

CTLD = "slurmctld"
NodeAction = Literal["down", "drain", "resume"]


class SlurmClusterError(ChiltepinError):
    """The single-host cluster could not be started, queried or stopped."""


@dataclass
class ClusterStatus:
    """A snapshot for ``chiltepin cluster status`` (``to_json`` is its ``--json`` form)."""

    name: str
    directory: Path
    conf: Path
    running: bool
    partition: str
    max_time: str
    ctld_port: int | None
    slurmd_ports: dict[str, int] = field(default_factory=dict)
    daemons: dict[str, dict[str, Any]] = field(default_factory=dict)
    nodes: dict[str, str] = field(default_factory=dict)
    jobs: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "directory": str(self.directory),
            "conf": str(self.conf),
            "slurm_conf_export": f"export SLURM_CONF={self.conf}",
            "running": self.running,
            "partition": self.partition,
            "max_time": self.max_time,
            "ctld_port": self.ctld_port,
            "slurmd_ports": self.slurmd_ports,
            "daemons": self.daemons,
            "nodes": self.nodes,
            "jobs": self.jobs,
        }


def in_service(state: str) -> bool:
    """True for a node state (``scontrol`` spelling) that can run jobs: responding, not down,
    drained or failed (``IDLE``, ``MIXED``, ``ALLOCATED``, ``IDLE+COMPLETING``, ...)."""
    base, *flags = state.split("+")
    out = {"DOWN", "DRAIN", "DRAINED", "DRAINING", "FAIL", "FAILING", "NOT_RESPONDING"}
    return base in {"IDLE", "MIXED", "ALLOCATED", "COMPLETING"} and not out.intersection(flags)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no file)"
    return "\n".join(text[-lines:]) or "(empty)"


def _port_accepts(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class SlurmCluster:
    """One single-host Slurm cluster living in ``spec.state_dir``.

    Typical use::

        with SlurmCluster(ClusterSpec(name="site1", state_dir=tmp)) as cluster:
            subprocess.run(["sbatch", "--wrap", "hostname"], env=cluster.environ())

    ``up()`` is idempotent: when the directory already holds a running cluster with a compatible
    spec it is adopted (missing daemons are restarted), so the CLI can be run twice safely.
    """

    def __init__(self, spec: ClusterSpec | None = None, *, die_with_parent: bool = False) -> None:
        """``die_with_parent``: the daemons get SIGTERM when the thread that started them dies.

        The pytest plugin sets it so a test run killed with SIGKILL (which skips every
        teardown) does not leave daemons behind. The CLI must not: its ``up`` exits at once.
        """
        self._requested = spec or ClusterSpec()
        self._die_with_parent = die_with_parent
        recorded = load_state(self._requested.state_dir)
        # Until up() runs, a recorded spec (with its real ports) describes the cluster best.
        self.spec: ClusterSpec = (
            recorded.spec
            if recorded is not None and self._requested.compatible_with(recorded.spec)
            else self._requested
        )
        self._procs: dict[str, Spawned] = {}

    @classmethod
    def from_dir(cls, directory: Path | str) -> SlurmCluster:
        """The cluster recorded in ``directory`` (for ``down``/``status`` from another process)."""
        path = Path(directory).expanduser().resolve()
        state = load_state(path)
        if state is None:
            raise SlurmClusterError(f"no cluster recorded in {path} (no cluster.json)")
        return cls(state.spec)

    # --- basic facts ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def directory(self) -> Path:
        return self.spec.state_dir

    @property
    def conf_path(self) -> Path:
        return self.spec.conf_path

    @property
    def node_names(self) -> list[str]:
        return self.spec.node_names

    @property
    def partition(self) -> str:
        return self.spec.partition

    def env(self) -> dict[str, str]:
        """The variables Slurm clients need to talk to this cluster (``SLURM_CONF``)."""
        return {"SLURM_CONF": str(self.conf_path)}

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) with every ``SLURM_*`` replaced by :meth:`env`.

        Inherited ``SLURM_*`` variables (an enclosing job's ``SLURM_JOB_ID``, another cluster's
        ``SLURM_CONF``) would make clients talk about the wrong job or the wrong cluster.
        """
        source = os.environ if base is None else base
        clean = {k: v for k, v in source.items() if not k.startswith("SLURM_")}
        clean.update(self.env())
        return clean

    def state(self) -> ClusterState | None:
        return load_state(self.directory)

    def daemons(self) -> dict[str, DaemonRecord]:
        """Recorded daemons by name (``slurmctld``, ``n1``, ...), alive or not."""
        state = self.state()
        return dict(state.daemons) if state is not None else {}

    def is_up(self) -> bool:
        """True when the controller and every node's slurmd recorded for this cluster run."""
        daemons = self.daemons()
        wanted = [CTLD, *self.node_names]
        return all(name in daemons and daemons[name].alive() for name in wanted)

    # --- lifecycle ------------------------------------------------------------------------------

    def up(self, timeout: float = 30.0) -> SlurmCluster:
        """Start the cluster and wait until every node is idle; or adopt the running one.

        Adopting (the directory holds a running cluster with a compatible spec) restarts any
        daemon that died and waits until every node is in service (busy nodes are fine). If a
        fresh start fails, everything it started is stopped and the error carries the logs'
        tails; a failed adoption stops nothing, since the cluster was running before.
        """
        directory = self._requested.state_dir
        with locked(directory):
            recorded = load_state(directory)
            adopted = recorded is not None and any(d.alive() for d in recorded.daemons.values())
            if recorded is not None and adopted:
                diffs = self._requested.differences(recorded.spec)
                if diffs:
                    raise SlurmClusterError(
                        f"cluster {recorded.spec.name!r} already runs in {directory} with another "
                        f"configuration (wanted != running: {'; '.join(diffs)}); stop it first: "
                        f"chiltepin cluster down --dir {directory}"
                    )
                self.spec = recorded.spec
                state = recorded
                state.stopped_at = None
            else:
                self.spec = self._requested.with_ports()
                state = ClusterState(spec=self.spec)
                self._prepare_directory()
            try:
                self._start_missing(state, fresh=not adopted, timeout=timeout)
                self.wait_for_nodes(
                    until=in_service if adopted else None,
                    timeout=timeout,
                    daemons=[CTLD, *self.node_names],
                )
            except BaseException:
                if not adopted:
                    self._stop_locked(timeout=5.0)
                raise
        return self

    start = up

    def down(self, timeout: float = 10.0) -> None:
        """Cancel every job, then stop every recorded daemon and any job step left behind.

        Each daemon gets SIGTERM (to its process group: it leads one), ``timeout`` seconds, then
        SIGKILL. Safe to call when nothing runs.
        """
        with locked(self.directory):
            self._stop_locked(timeout=timeout)

    stop = down

    def __enter__(self) -> SlurmCluster:
        return self.up()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    def _prepare_directory(self) -> None:
        """Check the ports, then create the directories (``SlurmdSpoolDir`` per node) and conf."""
        spec = self.spec
        ports = {CTLD: spec.ctld_port, **spec.node_ports}
        busy = [f"{who}:{port}" for who, port in ports.items() if port and not port_is_free(port)]
        if busy:
            raise SlurmClusterError(
                f"ports already in use on {LOOPBACK}: {', '.join(busy)}; choose other ports "
                "or leave them unset to pick free ones"
            )
        for path in (spec.state_dir, spec.log_dir, spec.ctld_state_dir, spec.pid_dir):
            path.mkdir(parents=True, exist_ok=True)
        for node in spec.node_names:
            (spec.spool_dir / node).mkdir(parents=True, exist_ok=True)
        write_atomically(spec.conf_path, render_slurm_conf(spec))

    def _command(self, name: str, fresh: bool = False) -> list[str]:
        conf = str(self.conf_path)
        if name == CTLD:
            # -c on a fresh start: forget jobs and node states saved by an earlier cluster in
            # this directory; a restarted controller of a running cluster keeps them.
            return [slurm.require_binary("slurmctld"), "-D", *(["-c"] if fresh else []), "-f", conf]
        return [slurm.require_binary("slurmd"), "-D", "-f", conf, "-N", name]

    def _spawn(self, name: str, state: ClusterState, fresh: bool = False) -> None:
        """Start one daemon in its own session, stdout/stderr into ``log/<name>.out``."""
        out_name = "slurmctld.out" if name == CTLD else f"slurmd-{name}.out"
        spawned = spawn_detached(
            self._command(name, fresh),
            self.spec.log_dir / out_name,
            env=self.environ(),
            cwd=self.directory,
            die_with_parent=self._die_with_parent,
        )
        self._procs[name] = spawned
        state.daemons[name] = DaemonRecord.of(name, spawned.record)
        # Recorded after every spawn: if we crash half-way, `down` still finds what runs.
        save_state(self.directory, state)

    def _start_missing(self, state: ClusterState, fresh: bool, timeout: float) -> None:
        """Start whatever is not running: the controller first, the nodes once it listens.

        A slurmd that starts before slurmctld accepts connections retries its registration a
        second later; waiting for the port (tens of ms) brings the nodes up ~1 s sooner.
        """
        record = state.daemons.get(CTLD)
        if record is None or not record.alive():
            self._spawn(CTLD, state, fresh)
        self._wait_for_ctld(timeout)
        for name in self.node_names:
            record = state.daemons.get(name)
            if record is None or not record.alive():
                self._spawn(name, state, fresh)
        save_state(self.directory, state)

    def _stop_locked(self, timeout: float) -> None:
        state = load_state(self.directory)
        if state is None:
            return
        ctld = state.daemons.get(CTLD)
        if ctld is not None and ctld.alive():
            self._cancel_all_jobs()
        nodes = [d for n, d in state.daemons.items() if n != CTLD and d.alive()]
        leaders = [d for d in ([ctld] if ctld else []) + nodes if d.alive()]
        # Each daemon leads its own process group (start_new_session): helpers such as
        # slurmctld's slurmscriptd go with it, found as members of that group, by PID.
        leader_pids = {d.pid for d in leaders}
        targets = leader_pids | processes.group_members(leader_pids)
        survivors = processes.terminate(targets, timeout=timeout)
        survivors |= processes.terminate(self.step_processes(self.node_names), timeout=timeout)
        for spawned in self._procs.values():
            spawned.exit_code()  # reaps it
        self._procs.clear()
        state.stopped_at = time.time()
        save_state(self.directory, state)
        if survivors:
            raise SlurmClusterError(
                f"could not stop PIDs {sorted(survivors)} of cluster {self.name!r}"
            )

    def _cancel_all_jobs(self, timeout: float = 4.0) -> None:
        """``scancel`` every job and give slurmstepd a moment to end them (KillWait is 2 s).

        Jobs on a dead node may stay COMPLETING for good; the step sweep that follows in
        :meth:`_stop_locked` handles whatever is left, so the wait is short.
        """
        ids = self._job_ids()
        if not ids:
            return
        self.run(["scancel", *ids], check=False)
        wait_until(lambda: not self._job_ids(), timeout)

    def _job_ids(self) -> list[str]:
        result = self.run(["squeue", "-h", "-o", "%i"], check=False, timeout=10)
        if result.returncode != 0:
            return []
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def step_processes(self, nodes: Iterable[str] | None = None) -> set[int]:
        """PIDs of the job-step processes (slurmstepd and its tasks) on ``nodes`` (default all).

        slurmstepd detaches from slurmd (double fork + setsid) but keeps the node's
        ``SlurmdLogFile`` open: that file lives in this cluster's directory, so holding it open
        identifies this cluster's steps, and :func:`processes.expand` adds their trees/sessions.
        The slurmd daemons hold the same file and are left out.
        """
        logs = [self.spec.slurmd_log(node) for node in (nodes or self.node_names)]
        daemons = {d.pid for d in self.daemons().values()}
        holders = processes.holders_of(logs) - daemons
        if not holders:
            return set()
        return processes.expand(holders) - daemons

    # --- nodes: the resilience knobs ------------------------------------------------------------

    def kill_node(self, name: str) -> list[int]:
        """Simulate a node crash: SIGKILL that node's slurmd and every job step it runs.

        Returns the PIDs that were killed. The controller's next ping fails after
        ``message_timeout`` seconds and the node becomes ``...+NOT_RESPONDING`` (about
        ``message_timeout + slurmd_timeout/3`` s), then ``DOWN+NOT_RESPONDING`` about
        ``slurmd_timeout`` s later, which requeues its batch jobs. :meth:`restart_node` brings
        it back.
        """
        self._check_node(name)
        record = self.daemons().get(name)
        targets: set[int] = set()
        if record is not None and record.alive():
            # slurmd leads its own process group: include any child it has forked right now.
            targets |= {record.pid} | processes.group_members([record.pid])
        targets |= self.step_processes([name])
        survivors = processes.kill_now(targets)
        spawned = self._procs.pop(name, None)
        if spawned is not None:
            spawned.exit_code()  # reaps it
        if survivors:
            raise SlurmClusterError(f"could not kill PIDs {sorted(survivors)} of node {name}")
        return sorted(targets)

    def restart_node(self, name: str, timeout: float = 30.0) -> None:
        """Start ``name``'s slurmd again and wait until the node is back in service.

        ReturnToService=2 returns a DOWN node to service when it registers. A job that was on
        the node when it died may keep it MIXED/ALLOCATED until Slurm notices the job is gone
        (BatchStartTimeout, ~20 s) and requeues it; "in service" does not wait for that.
        """
        self._check_node(name)
        with locked(self.directory):
            state = load_state(self.directory)
            ctld = state.daemons.get(CTLD) if state is not None else None
            if state is None or ctld is None or not ctld.alive():
                raise SlurmClusterError(
                    f"cluster {self.name!r} is not running; start it with up() first"
                )
            record = state.daemons.get(name)
            if record is None or not record.alive():
                self._spawn(name, state)
        self.wait_for_nodes([name], until=in_service, timeout=timeout, daemons=[CTLD, name])

    def set_node_state(self, name: str, state: NodeAction, reason: str = "chiltepin") -> None:
        """``scontrol update`` a node: ``down``/``drain`` (with ``reason``) or ``resume``."""
        self._check_node(name)
        if state not in ("down", "drain", "resume"):
            raise SlurmClusterError(f"node state {state!r} not allowed; use down, drain or resume")
        args = ["scontrol", "update", f"NodeName={name}", f"State={state.upper()}"]
        if state != "resume":
            args.append(f"Reason={reason}")
        self.run(args)

    def _check_node(self, name: str) -> None:
        if name not in self.node_names:
            raise SlurmClusterError(
                f"no node {name!r} in cluster {self.name!r}; nodes: {', '.join(self.node_names)}"
            )

    # --- queries --------------------------------------------------------------------------------

    def run(
        self,
        args: list[str],
        *,
        check: bool = True,
        timeout: float = 30.0,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client command (``sinfo``, ``sbatch``, ...) against this cluster."""
        result = slurm.run(args, env=self.environ(), timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise SlurmClusterError(
                f"`{' '.join(args)}` failed on cluster {self.name!r} (exit {result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        return result

    def node_states(self) -> dict[str, str]:
        """Node name → Slurm state as ``scontrol`` spells it (``IDLE``, ``DOWN+NOT_RESPONDING``)."""
        result = self.run(["scontrol", "show", "node", "-o"], timeout=10)
        return {
            node["NodeName"]: node["State"]
            for node in slurm.records(result.stdout)
            if node.get("NodeName") and node.get("State")
        }

    def wait_for_nodes(
        self,
        nodes: Iterable[str] | None = None,
        *,
        until: Callable[[str], bool] | None = None,
        timeout: float = 30.0,
        daemons: Iterable[str] = (CTLD,),
    ) -> dict[str, str]:
        """Wait until ``until(state)`` holds for every node in ``nodes`` (default: all IDLE).

        ``state`` is the ``scontrol`` spelling (``IDLE``, ``DOWN+NOT_RESPONDING``). Fails at
        once, with the tail of the daemon logs, when one of ``daemons`` exits; on timeout the
        error shows the node states seen last and the logs. Returns the last states.
        """
        wanted = list(nodes) if nodes is not None else self.node_names
        accept = until or (lambda s: s == "IDLE")
        watched = list(daemons)
        began = time.monotonic()
        self._wait_for_ctld(timeout)
        states: dict[str, str] = {}

        def ready() -> bool:
            nonlocal states
            self._check_daemons_alive(watched)
            with contextlib.suppress(SlurmClusterError, subprocess.TimeoutExpired):
                states = self.node_states()
            return all(accept(states.get(n, "")) for n in wanted)

        left = max(0.0, timeout - (time.monotonic() - began))  # one budget for both waits
        if not wait_until(ready, left, interval=0.05):
            raise SlurmClusterError(self._failure("nodes not ready", states, timeout))
        return states

    def _wait_for_ctld(self, timeout: float) -> None:
        def listening() -> bool:
            if _port_accepts(self.spec.ctld_port or 0):
                return True
            self._check_daemons_alive([CTLD])
            return False

        if not wait_until(listening, timeout, interval=0.02):
            raise SlurmClusterError(self._failure("slurmctld never listened", {}, timeout))

    def _check_daemons_alive(self, names: Iterable[str]) -> None:
        recorded = self.daemons()
        dead = [n for n in names if n in recorded and not recorded[n].alive()]
        if dead:
            raise SlurmClusterError(self._failure(f"daemon(s) exited: {', '.join(dead)}", {}, None))

    def _failure(self, what: str, states: Mapping[str, str], timeout: float | None) -> str:
        after = f" after {timeout:.0f} s" if timeout is not None else ""
        parts = [
            f"cluster {self.name!r} in {self.directory}: {what}{after}.",
            f"node states: {dict(states) or 'unknown'}",
        ]
        for path in sorted(self.spec.log_dir.glob("*")):
            if path.is_file():
                parts.append(f"--- tail of {path} ---\n{_tail(path)}")
        return "\n".join(parts)

    def jobs(self) -> list[dict[str, str]]:
        """Jobs in the queue: id, state, name, nodes (empty when the controller is down)."""
        result = self.run(["squeue", "-h", "-o", "%i|%T|%j|%N"], check=False, timeout=10)
        if result.returncode != 0:
            return []
        jobs = []
        for line in result.stdout.splitlines():
            job_id, job_state, name, nodes = [*line.split("|", 3), "", "", ""][:4]
            jobs.append({"id": job_id, "state": job_state, "name": name, "nodes": nodes})
        return jobs

    def sbatch(self, *args: str, script: str | None = None) -> str:
        """Submit a job (``sbatch --parsable ARGS``; ``script`` goes to stdin); return its id."""
        result = self.run(["sbatch", "--parsable", *args], input=script)
        return result.stdout.strip().split(";")[0]

    def job_info(self, job_id: str) -> dict[str, str]:
        """``scontrol show job -o`` as a dict (kept for ``MinJobAge``=300 s after the end)."""
        result = self.run(["scontrol", "show", "job", "-o", job_id], timeout=10)
        return slurm.fields(result.stdout)

    def wait_job(self, job_id: str, timeout: float = 30.0) -> dict[str, str]:
        """Wait until ``job_id`` reaches a terminal state; return its ``scontrol`` fields."""

        def finished() -> dict[str, str] | None:
            info = self.job_info(job_id)
            return info if info.get("JobState") in slurm.TERMINAL_JOB_STATES else None

        info = wait_until(finished, timeout)
        if info is None:
            state = self.job_info(job_id).get("JobState")
            raise SlurmClusterError(f"job {job_id} still {state} after {timeout:.0f} s")
        return info

    def status(self) -> ClusterStatus:
        """Daemons (PID, alive), node states and jobs; works when the cluster is down."""
        daemons = self.daemons()
        ctld = daemons.get(CTLD)
        ctld_up = ctld is not None and ctld.alive()
        nodes: dict[str, str] = {}
        jobs: list[dict[str, str]] = []
        if ctld_up:
            with contextlib.suppress(SlurmClusterError, subprocess.TimeoutExpired):
                nodes = self.node_states()
            jobs = self.jobs()
        return ClusterStatus(
            name=self.name,
            directory=self.directory,
            conf=self.conf_path,
            running=self.is_up(),
            partition=self.spec.partition,
            max_time=self.spec.max_time,
            ctld_port=self.spec.ctld_port,
            slurmd_ports=self.spec.node_ports if self.spec.ports_resolved else {},
            daemons={
                name: {"pid": d.pid, "alive": d.alive(), "command": d.command}
                for name, d in daemons.items()
            },
            nodes=nodes,
            jobs=jobs,
        )

    def __repr__(self) -> str:
        return f"SlurmCluster(name={self.name!r}, directory={str(self.directory)!r})"
