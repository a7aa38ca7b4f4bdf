"""The site model: what one HPC system (or this machine) is, validated once at the edge.

A site file in ``endpoints/`` is data, not code. Everything downstream (endpoint templates,
the embedded engine, placement and cost) reads these typed fields and never re-parses text.
Patterns for values that reach a batch script come from ``templates/user_config_schema.json``
so the site file and the endpoint's submit-time schema can never disagree.
"""

from __future__ import annotations

import json
import math
import os
import re
from enum import Enum
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from chiltepin.paths import data_dir
from chiltepin.sites.allowlist import check_entries


@cache
def user_options_schema() -> dict[str, Any]:
    """The shipped JSON schema of submit-time user options (the single source of patterns)."""
    return json.loads((data_dir("templates") / "user_config_schema.json").read_text())


def _matching(pattern: str, description: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"must be {description}; got {value!r}")
        return value

    return AfterValidator(check)


def _pattern_check(definition: str) -> AfterValidator:
    spec = user_options_schema()["$defs"][definition]
    return _matching(spec["pattern"], spec["description"])


SafeName = Annotated[str, _pattern_check("safe_name")]
Walltime = Annotated[str, _pattern_check("walltime")]
# Values the endpoint puts into a worker's launch command unquoted (container image) or
# that name a host: an allow-list of the characters such values are made of, so nothing
# a shell would interpret can reach a batch script.
ImageRef = Annotated[
    str,
    _matching(
        r"[A-Za-z0-9._/][A-Za-z0-9._/:@+-]{0,1023}",
        "an image path or reference (letters, digits and . _ / : @ + -,"
        " e.g. /images/wx.sif or docker://ghcr.io/org/img:1.2)",
    ),
]
Address = Annotated[
    str,
    _matching(
        r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}|[0-9A-Fa-f:.]{2,45}",
        "an IP address or host name (letters, digits, '.', '-'; IPv6 with ':')",
    ),
]


def walltime_seconds(walltime: str) -> int:
    """``HH:MM:SS`` → seconds (the value was validated by :data:`Walltime`)."""
    hours, minutes, seconds = (int(part) for part in walltime.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def _check_directive(value: str) -> str:
    if "\n" in value or not value.startswith(("#SBATCH ", "#PBS ")):
        raise ValueError(
            f"must be one batch directive line starting with '#SBATCH ' or '#PBS '; got {value!r}"
        )
    return value


Directive = Annotated[str, AfterValidator(_check_directive)]


def _check_rate(value: float) -> float:
    """A rate summed into a run's cost and checked against its budget: ``inf`` would make
    every run over budget and ``nan`` every comparison false, so neither is a rate."""
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"must be a finite number >= 0; got {value!r}")
    return value


Rate = Annotated[float, AfterValidator(_check_rate)]


def _auto_cores(value: Any) -> Any:
    """``cores_per_node: auto`` means this machine's cores (for the ``local`` scheduler)."""
    return (os.cpu_count() or 1) if value == "auto" else value


class Scheduler(str, Enum):
    """The batch system that starts a site's workers."""

    #: Slurm (sbatch): most RDHPCS systems and cloud clusters.
    slurm = "slurm"
    #: PBS Pro (qsub): e.g. Derecho.
    pbspro = "pbspro"
    #: No batch system: worker processes on this machine (a laptop, a login node).
    local = "local"


class MpiLauncher(str, Enum):
    """The command that starts an MPI task's ranks on its nodes."""

    #: Slurm's own launcher.
    srun = "srun"
    #: The MPI library's launcher (MPICH, Open MPI, Cray PALS on PBS).
    mpiexec = "mpiexec"
    #: Cray ALPS systems.
    aprun = "aprun"


class _Strict(BaseModel):
    # Names such as an account "1234" are strings even when YAML reads them as numbers.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


ContainerRuntime = Literal["apptainer", "singularity", "docker", "podman"]

_APPTAINER_MOUNT_OPTIONS = ("ro", "rw")
#: Mount options each runtime documents for a bind (apptainer/singularity ``-B``: "ro" or
#: "rw", one of them, since ``,`` separates bind specs there; docker and podman ``-v``: a
#: comma-separated list). podman's ``idmap=...`` form and ``--mount``-only options such as
#: ``relabel=`` are left out: their values bring characters a shell interprets.
MOUNT_OPTIONS: dict[str, tuple[str, ...]] = {
    "apptainer": _APPTAINER_MOUNT_OPTIONS,
    "singularity": _APPTAINER_MOUNT_OPTIONS,
    "docker": (
        *("rw", "ro", "z", "Z", "nocopy", "consistent", "cached", "delegated"),
        *("shared", "rshared", "slave", "rslave", "private", "rprivate"),
    ),
    "podman": (
        *("rw", "ro", "z", "Z", "O", "U", "copy", "nocopy", "dev", "nodev", "exec", "noexec"),
        *("suid", "nosuid", "bind", "rbind", "shared", "rshared", "slave", "rslave"),
        *("private", "rprivate", "unbindable", "runbindable", "idmap"),
    ),
}
_MOUNT_PATH = re.compile(r"/[A-Za-z0-9._/@+=-]{0,1023}")
_BIND_FORM = (
    "HOST_DIR[:CONTAINER_DIR[:OPTIONS]]: absolute paths of letters, digits and . _ / @ + = -"
    " (e.g. /scratch1, /data:/data or /data:/data:ro)"
)


def _check_bind(value: str, info: ValidationInfo) -> str:
    """A container bind the runtime reads as ``src[:dst[:options]]``, each part checked.

    The engine puts binds into every worker's launch command after undoing shell quoting,
    so each part is held to an allow-list of characters; ``:`` and ``,`` separate parts
    and options, so no path may hold them.
    """
    parts = value.split(":")
    if len(parts) > 3:
        raise ValueError(f"must be {_BIND_FORM}; got {value!r} (more than two ':')")
    for what, path in zip(("host path", "container path"), parts[:2], strict=False):
        if not _MOUNT_PATH.fullmatch(path):
            why = "has other characters" if path.startswith("/") else "is not absolute"
            raise ValueError(f"must be {_BIND_FORM}; the {what} {path!r} {why}; got {value!r}")
    if len(parts) == 3:
        _check_mount_options(parts[2], info.data.get("runtime"), value)
    return value


def _check_mount_options(options: str, runtime: str | None, value: str) -> None:
    """``options`` are ones ``runtime`` documents (unchecked when the runtime itself is
    invalid: that is reported on its own)."""
    known = MOUNT_OPTIONS.get(runtime or "")
    if known is None:
        return
    listed = options.split(",")
    if known is _APPTAINER_MOUNT_OPTIONS and len(listed) > 1:
        raise ValueError(
            f"{runtime} takes one mount option per bind, ro or rw (',' separates binds there);"
            f" got {value!r}"
        )
    unknown = [option for option in listed if option not in known]
    if unknown:
        raise ValueError(
            f"mount option {unknown[0]!r} is not one {runtime} takes; allowed: {', '.join(known)};"
            f" got {value!r}"
        )


BindSpec = Annotated[str, AfterValidator(_check_bind)]


class Container(_Strict):
    """A container every worker runs in (Globus Compute's ``container_type``/``container_uri``)."""

    runtime: ContainerRuntime = Field(
        description="the container runtime the site's workers start with (apptainer or"
        " singularity on most HPC systems); it decides which bind mount options are allowed"
    )
    image: ImageRef = Field(
        description="image path or URI, e.g. /images/wx.sif or docker://ghcr.io/org/img:1.2"
    )
    bind: list[BindSpec] = Field(
        default_factory=list,
        description="host directories to mount, as HOST_DIR[:CONTAINER_DIR[:OPTIONS]]: a"
        " container sees none of the host's file systems (scratch, shared data) unless bound",
    )


class Tolerance(_Strict):
    """How long silence is tolerated before workers or the endpoint are declared lost.

    Defaults are for HPC sites and come from the resilience scenarios (tests/resilience,
    README "Tolerance knobs"): Parsl's 30 s / 120 s declares a block's workers dead after
    a two-minute interconnect outage; 360 s survives it with margin and still reruns a
    dead node's tasks within minutes.
    """

    worker_heartbeat_period: int = Field(
        30, ge=1, le=3600, description="seconds between heartbeats of workers and interchange"
    )
    worker_heartbeat_threshold: int = Field(
        360,
        ge=2,
        le=86400,
        description="seconds of silence before a block's workers are declared lost and their"
        " tasks rerun: long enough to ride out an interconnect outage, short enough that a"
        " dead node's tasks run again within minutes",
    )
    drain_margin: int | None = Field(
        300,
        ge=1,
        le=86400,
        description="seconds before a block's walltime when its workers stop taking tasks"
        " (ignored when the walltime is not more than twice this)",
    )
    endpoint_heartbeat_period: int = Field(
        30, ge=5, le=3600, description="seconds (Globus Compute's minimum is 5)"
    )
    idle_heartbeats_soft: int = Field(
        10, ge=0, le=100000, description="endpoint heartbeats idle after work before exiting"
    )
    idle_heartbeats_hard: int = Field(
        5760, ge=0, le=100000, description="endpoint heartbeats with nothing moving, at most"
    )
    max_retries_on_system_failure: int = Field(
        2,
        ge=0,
        le=100,
        description="times the endpoint reruns a task whose worker died under it (lost node,"
        " killed batch job) before reporting it failed; the user's own exceptions are never"
        " rerun",
    )
    strategy_period: float = Field(
        5.0, gt=0, le=600, description="seconds between scaling decisions"
    )
    start_grace_period: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="seconds the endpoint keeps a start request for a user endpoint that is"
        " shutting down, to start it again afterwards (Globus Compute's"
        " mu_child_ep_grace_period_s)",
    )

    @model_validator(mode="after")
    def _threshold_exceeds_period(self) -> Tolerance:
        if self.worker_heartbeat_threshold <= self.worker_heartbeat_period:
            raise ValueError(
                "worker_heartbeat_threshold must be larger than worker_heartbeat_period"
            )
        return self

    @model_validator(mode="after")
    def _idle_exit_outlasts_start_grace(self) -> Tolerance:
        """The service sends the endpoint a start request with every submission, and
        the endpoint keeps it for ``start_grace_period`` so that tasks submitted while a
        user endpoint shuts down are not stranded. A user endpoint that goes idle
        sooner than that after its last submission is therefore started again with no
        work, and a user endpoint that never received a task only exits after
        ``idle_heartbeats_hard`` (days on HPC settings). Its idle exit must come well
        after the grace period (twice, for the time between the tasks and the request
        reaching the endpoint)."""
        idle_s = self.idle_heartbeats_soft * self.endpoint_heartbeat_period
        if self.idle_heartbeats_soft and idle_s < 2 * self.start_grace_period:
            least = math.ceil(2 * self.start_grace_period / self.endpoint_heartbeat_period)
            raise ValueError(
                f"idle_heartbeats_soft {self.idle_heartbeats_soft} x endpoint_heartbeat_period"
                f" {self.endpoint_heartbeat_period} s lets an idle user endpoint exit after"
                f" {idle_s} s, within twice start_grace_period ({self.start_grace_period:g} s):"
                " the endpoint would start it again with no work, and it would then stay up"
                f" for idle_heartbeats_hard; allowed: idle_heartbeats_soft 0 (never exit) or"
                f" at least {least}, or start_grace_period at most {idle_s / 2:g}"
            )
        return self


def _check_scratch(value: str) -> str:
    """The per-run work area names its directory directly. Every path a task writes under
    ``{scratch}`` is confined to it, so it is the root of what a task may touch on the
    site; a ``..`` part makes that root somewhere other than where it is written (for a
    relative path, above the directory it is taken from)."""
    if ".." in value.split("/"):
        raise ValueError(
            "must not contain a '..' part: it is the per-run work area every task path is"
            " confined to, and '..' would put it outside the directory it names; write that"
            f" directory itself (e.g. /scratch/{{user}}/chiltepin/{{run_id}}); got {value!r}"
        )
    return value


class Transfer(_Strict):
    """Where this site's data lives for Globus Transfer."""

    collection: str | None = Field(
        None,
        description="the site's Globus collection (UUID or exact display name): where"
        " stage_in and stage_out move data to and from; unset when nothing is staged",
    )
    scratch: Annotated[str, AfterValidator(_check_scratch)] = Field(
        "/tmp/chiltepin/{run_id}",
        description="per-run work directory on the site, {scratch} in staging locations and"
        " SitePath; every path a task writes there is confined to it",
    )


class Limits(_Strict):
    """Upper bounds a user may ask for at submit time (they tighten the endpoint's schema)."""

    max_nodes_per_block: int = Field(
        16,
        ge=1,
        le=100000,
        description="largest nodes_per_block a user may set (in options or a task's resources)",
    )
    max_blocks: int = Field(
        10, ge=1, le=1000, description="largest max_blocks (batch jobs at once) a user may set"
    )
    max_walltime: Walltime = Field(
        "08:00:00", description="longest walltime a user may ask for (HH:MM:SS)"
    )


class Site(_Strict):
    """One place where tasks run. Field names are what users write in a site file."""

    name: SafeName = Field(
        description="the site's name: what sites files, --site and the run report call it"
    )
    description: str = Field("", description="one line for humans (chiltepin sites list)")
    scheduler: Scheduler = Field(
        description="the batch system that starts workers: slurm, pbspro, or local (this"
        " machine's processes, no batch jobs)"
    )
    # Scheduler placement. Only the keys that mean something for `scheduler` may be set.
    partition: SafeName | None = Field(None, description="Slurm partition batch jobs go to")
    queue: SafeName | None = Field(None, description="PBS Pro queue batch jobs go to")
    qos: SafeName | None = Field(None, description="Slurm quality of service")
    account: SafeName | None = Field(
        None,
        description="the allocation batch jobs are charged to; usually set per user (their"
        " sites file options or --set account=...), since a shared site file cannot know it",
    )
    clusters: SafeName | None = Field(
        None, description="Slurm --clusters, for machines with several (e.g. Gaea c5/c6)"
    )
    scheduler_options: list[Directive] = Field(
        default_factory=list,
        description="extra '#SBATCH ...' or '#PBS ...' lines for what no field covers (a"
        " constraint, a reservation); one directive per entry",
    )
    # Block geometry.
    cores_per_node: Annotated[int, BeforeValidator(_auto_cores)] = Field(
        ge=1,
        le=1024,
        description="cores of one compute node ('auto': this machine's, for the local"
        " scheduler); with cores_per_worker it sets how many tasks a node runs at once",
    )
    memory_per_node_gb: int | None = Field(
        None, ge=1, le=65536, description="memory to request per node (Slurm --mem), in GB"
    )
    nodes_per_block: int = Field(
        1,
        ge=1,
        le=100000,
        description="nodes in one batch job (a block); more than one for multi-node MPI tasks",
    )
    walltime: Walltime = Field(
        "00:30:00",
        description="walltime of one batch job (HH:MM:SS): shorter jobs start sooner on a"
        " busy machine, longer ones spend less time in the queue per task",
    )
    init_blocks: int = Field(
        0, ge=0, le=1000, description="batch jobs submitted when the endpoint starts"
    )
    min_blocks: int = Field(
        0,
        ge=0,
        le=1000,
        description="batch jobs kept even when idle: warm workers cost node-hours",
    )
    max_blocks: int = Field(
        1,
        ge=1,
        le=1000,
        description="batch jobs at once at most; with the geometry, the site's capacity",
    )
    exclusive: bool = Field(
        True, description="ask for whole nodes (Slurm --exclusive), so no other job shares them"
    )
    max_idletime: float = Field(
        120.0,
        gt=0,
        le=86400,
        description="seconds an idle block is kept before it is released: long enough to reuse"
        " it for the next wave of tasks, short enough not to pay for idle nodes",
    )
    max_workers_per_node: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="tasks a node runs at once at most (default: cores_per_node /"
        " cores_per_worker)",
    )
    cores_per_worker: float = Field(
        1.0,
        gt=0,
        le=1024,
        description="cores each task gets: above 1 for threaded tasks, below 1 to oversubscribe",
    )
    # MPI.
    mpi: bool = Field(
        False,
        description="run tasks with the MPI engine (each task launched over its own nodes)"
        " by default; a task's resources turn it on per task",
    )
    mpi_launcher: MpiLauncher = Field(
        MpiLauncher.srun, description="how MPI tasks are launched on this machine"
    )
    max_mpi_apps: int = Field(
        1,
        ge=1,
        le=1024,
        description="MPI tasks one block runs side by side (they share its nodes)",
    )
    # Environment of every worker.
    worker_init: list[str] = Field(
        default_factory=list,
        description="shell lines run first in every batch job (module loads, conda"
        " activate): the environment tasks run in",
    )
    container: Container | None = Field(
        None, description="a container every worker runs in (unset: none)"
    )
    address: Address | None = Field(
        None, description="address workers use to reach the endpoint (127.0.0.1 on one host)"
    )
    encrypted: bool = Field(
        True, description="CurveZMQ between workers and interchange (needless on loopback)"
    )
    engine_debug: bool = Field(
        False,
        description="Parsl's DEBUG logs from the engine's interchange, managers and workers"
        " (several lines for every task: a long run's logs outgrow its journal); off, they"
        " log warnings only (an endpoint's workers keep Parsl's default level where they run"
        " in a container or for a multi-user endpoint)",
    )
    tolerance: Tolerance = Field(
        Tolerance(), description="how long silence is tolerated before work is declared lost"
    )
    limits: Limits = Field(Limits(), description="upper bounds of what users may ask for")
    transfer: Transfer = Field(Transfer(), description="where this site's data lives")
    cost_per_node_hour: Rate = Field(0.0, description="cost of one node for an hour, in cost_unit")
    cost_unit: str = Field("USD", min_length=1, max_length=32, description="e.g. core-hours")
    tags: list[SafeName] = Field(
        default_factory=list,
        description="capabilities, e.g. gpu: a task submitted with tags runs only on sites"
        " that have them all",
    )
    allowed_functions: Annotated[list[str] | str | None, AfterValidator(check_entries)] = Field(
        None,
        description="function ids the endpoint runs (all when unset): entries"
        " 'UUID [module:function]', or the path of a file of them, one per line",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Site:
        per_scheduler = {
            Scheduler.slurm: {"queue"},
            Scheduler.pbspro: {"partition", "qos", "clusters"},
            Scheduler.local: {"partition", "queue", "qos", "account", "clusters"},
        }[self.scheduler]
        for key in sorted(per_scheduler):
            if getattr(self, key) is not None:
                raise ValueError(f"'{key}' does not apply to scheduler '{self.scheduler.value}'")
        limits = self.limits
        checks = [
            (self.min_blocks <= self.max_blocks, f"min_blocks {self.min_blocks} > max_blocks"),
            (self.init_blocks <= self.max_blocks, f"init_blocks {self.init_blocks} > max_blocks"),
            (
                self.max_blocks <= limits.max_blocks,
                f"max_blocks {self.max_blocks} > limits.max_blocks {limits.max_blocks}",
            ),
            (
                self.nodes_per_block <= limits.max_nodes_per_block,
                f"nodes_per_block {self.nodes_per_block} >"
                f" limits.max_nodes_per_block {limits.max_nodes_per_block}",
            ),
            (
                walltime_seconds(self.walltime) <= walltime_seconds(limits.max_walltime),
                f"walltime {self.walltime} > limits.max_walltime {limits.max_walltime}",
            ),
        ]
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def capacity(self) -> int:
        """Concurrent tasks this site can hold at most: the basis for capacity placement."""
        per_node = self.max_workers_per_node or max(
            1, int(self.cores_per_node // self.cores_per_worker)
        )
        return self.max_blocks * self.nodes_per_block * per_node
