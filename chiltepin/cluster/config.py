"""What a single-host Slurm cluster looks like (:class:`ClusterSpec`) and its ``slurm.conf``.

There is exactly one ``slurm.conf`` template, ``docker/slurm/slurm.conf.j2``. This module renders
it for the single-host cluster; :mod:`chiltepin.cluster.docker` renders the same file for the
docker compose cluster, so the two cannot drift apart. User input is validated once, here, so the
rest of the package can trust a :class:`ClusterSpec`.
"""

from __future__ import annotations

import getpass
import os
import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chiltepin.cluster.ports import LOOPBACK, find_free_ports
from chiltepin.cluster.slurm import find_binary
from chiltepin.errors import ConfigError, ConfigErrors
from chiltepin.paths import data_dir

TEMPLATE_NAME = "slurm.conf.j2"

#: Slurm time limits: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, or UNLIMITED/INFINITE.
TIME_LIMIT = re.compile(r"^(UNLIMITED|INFINITE|\d+(:\d{1,2}){0,2}|\d+-\d{1,2}(:\d{1,2}){0,2})$")

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")

#: sun_path holds 107 bytes; slurmstepd puts ``<dir>/spool/<node>/<node>_<job>.<step>`` there.
_UNIX_SOCKET_MAX = 107
_SOCKET_SUFFIX_RESERVE = len("/spool/") + len("/_") + len("67043328.4294967291")

DEFAULT_NAME = "chiltepin"
DEFAULT_PARTITION = "debug"
DEFAULT_NODES = 3
FALLBACK_REAL_MEMORY_MB = 1024


def default_cpus() -> int:
    """CPUs this process may use (like ``nproc``: honours affinity masks and container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


@cache
def detect_real_memory() -> int:
    """``RealMemory`` as ``slurmd -C`` reports it, or a safe 1 GiB when slurmd is unavailable.

    Declaring more memory than slurmd then detects would drain the node ("Low RealMemory"), so
    the value comes from slurmd itself. Cached: ``slurmd -C`` takes a noticeable fraction of a
    second and the answer does not change.
    """
    slurmd = find_binary("slurmd")
    if slurmd is None:
        return FALLBACK_REAL_MEMORY_MB
    try:
        out = subprocess.run(
            [slurmd, "-C"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return FALLBACK_REAL_MEMORY_MB
    match = re.search(r"RealMemory=(\d+)", out)
    return int(match.group(1)) if match else FALLBACK_REAL_MEMORY_MB


def clusters_root() -> Path:
    """Parent of the default cluster directories.

    ``$XDG_RUNTIME_DIR/chiltepin/clusters`` when the session has a runtime dir (tmpfs, private,
    cleaned at logout: right for daemon state), else ``~/.chiltepin/clusters``.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "chiltepin" / "clusters"
    return Path.home() / ".chiltepin" / "clusters"


def default_cluster_dir(name: str) -> Path:
    """Where cluster ``name`` keeps its conf, state, spool and logs unless told otherwise."""
    return clusters_root() / name


class ClusterSpec(BaseModel):
    """A single-host Slurm cluster: a controller plus ``nodes`` fake nodes on 127.0.0.1.

    * ``name``: Slurm ``ClusterName`` and the default directory's last component.
    * ``partition``: the one (default) partition, holding every node; ``max_time`` is its
      ``MaxTime`` (enforced at submission: ``EnforcePartLimits=ALL``).
    * ``nodes``/``node_prefix``: node names ``n1..nN``.
    * ``ctld_port``/``slurmd_port``: ``None`` means "a free port on 127.0.0.1, chosen at start"
      (:meth:`with_ports`); node ``i`` listens on ``slurmd_port + i - 1``.
    * ``cpus``/``real_memory``: what each fake node declares (default: ``nproc`` and
      ``slurmd -C``; every fake node shares the same real machine).
    * ``state_dir``: conf, ``cluster.json``, logs, spool and controller state.
    * ``slurmd_timeout``/``message_timeout``: how fast a dead node is noticed (see
      ``slurm.conf.j2``); lower them for node-failure tests.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = DEFAULT_NAME
    partition: str = DEFAULT_PARTITION
    nodes: int = Field(DEFAULT_NODES, ge=1, le=64)
    node_prefix: str = "n"
    ctld_port: int | None = Field(None, ge=1024, le=65535)
    slurmd_port: int | None = Field(None, ge=1024, le=65535)
    cpus: int = Field(default_factory=default_cpus, ge=1, le=1024)
    real_memory: int = Field(default_factory=detect_real_memory, ge=1)
    state_dir: Path = Field(
        default_factory=lambda data: default_cluster_dir(data.get("name", DEFAULT_NAME)),
        validate_default=True,
    )
    max_time: str = "UNLIMITED"
    slurmd_timeout: int = Field(10, ge=3, le=600)
    message_timeout: int = Field(5, ge=2, le=100)

    @field_validator("name", "partition", "node_prefix")
    @classmethod
    def _slurm_name(cls, value: str, info: ValidationInfo) -> str:
        """Names end up in slurm.conf, paths and command lines: keep them plain."""
        longest = 8 if info.field_name == "node_prefix" else 32
        if not _NAME.match(value) or len(value) > longest:
            raise ValueError(
                f"{value!r} is not allowed; use lowercase letters, digits, '-' and '_', "
                f"starting with a letter, at most {longest} characters"
            )
        return value

    @field_validator("state_dir")
    @classmethod
    def _absolute_dir(cls, value: Path) -> Path:
        """Slurm needs absolute paths in ``slurm.conf``."""
        return Path(value).expanduser().resolve()

    @field_validator("max_time")
    @classmethod
    def _slurm_time(cls, value: str) -> str:
        value = value.strip()
        if not TIME_LIMIT.match(value):
            raise ValueError(
                f"{value!r} is not a Slurm time limit; use MM, MM:SS, HH:MM:SS, D-HH, "
                "D-HH:MM, D-HH:MM:SS or UNLIMITED (e.g. 00:30:00)"
            )
        return "UNLIMITED" if value == "INFINITE" else value

    @model_validator(mode="after")
    def _short_enough_for_sockets(self) -> ClusterSpec:
        """slurmstepd listens on ``<dir>/spool/<node>/<node>_<job>.<step>``: 107 bytes at most."""
        longest_node = max(len(n) for n in self.node_names)
        longest = _UNIX_SOCKET_MAX - _SOCKET_SUFFIX_RESERVE - 2 * longest_node
        if len(str(self.state_dir)) > longest:
            raise ValueError(
                f"state_dir {self.state_dir} is {len(str(self.state_dir))} characters long; at "
                f"most {longest} are allowed because slurmstepd creates unix sockets under it "
                "(107-byte limit). Choose a shorter directory."
            )
        return self

    @model_validator(mode="after")
    def _ports_do_not_overlap(self) -> ClusterSpec:
        if self.slurmd_port is not None:
            last = self.slurmd_port + self.nodes - 1
            if last > 65535:
                raise ValueError(f"slurmd ports {self.slurmd_port}-{last} exceed 65535")
            if self.ctld_port is not None and self.slurmd_port <= self.ctld_port <= last:
                raise ValueError(
                    f"ctld_port {self.ctld_port} falls inside the slurmd ports "
                    f"{self.slurmd_port}-{last}"
                )
        return self

    # --- derived values -------------------------------------------------------------------

    @property
    def node_names(self) -> list[str]:
        """``n1``, ``n2``, ... (the names jobs see in ``SLURM_NODELIST``)."""
        return [f"{self.node_prefix}{i}" for i in range(1, self.nodes + 1)]

    @property
    def node_ports(self) -> dict[str, int]:
        """Port of each node's slurmd; requires resolved ports."""
        first = self._require_port(self.slurmd_port, "slurmd_port")
        return {name: first + i for i, name in enumerate(self.node_names)}

    @property
    def ports_resolved(self) -> bool:
        return self.ctld_port is not None and self.slurmd_port is not None

    def with_ports(self) -> ClusterSpec:
        """This spec with every unset port replaced by a free one on 127.0.0.1."""
        if self.ports_resolved:
            return self
        ctld = self.ctld_port
        first = self.slurmd_port
        if ctld is None:
            exclude = range(first, first + self.nodes) if first is not None else ()
            ctld = find_free_ports(1, exclude=exclude)[0]
        if first is None:
            first = find_free_ports(self.nodes, exclude=[ctld])[0]
        return self.model_copy(update={"ctld_port": ctld, "slurmd_port": first})

    def differences(self, running: ClusterSpec) -> list[str]:
        """``field: wanted != running`` for each field where ``running`` is not what we ask for.

        Unset ports match any port: a cluster whose ports were chosen for it still is the
        cluster that was asked for.
        """
        diffs = []
        for name in type(self).model_fields:
            wanted, actual = getattr(self, name), getattr(running, name)
            if name in ("ctld_port", "slurmd_port") and wanted is None:
                continue
            if wanted != actual:
                diffs.append(f"{name}: {wanted} != {actual}")
        return diffs

    def compatible_with(self, running: ClusterSpec) -> bool:
        """True when ``running`` is what this spec asks for (see :meth:`differences`)."""
        return not self.differences(running)

    @staticmethod
    def _require_port(value: int | None, field: str) -> int:
        if value is None:
            raise ValueError(f"{field} is not chosen yet; call ClusterSpec.with_ports() first")
        return value

    # --- files inside state_dir ---------------------------------------------------------------

    @property
    def conf_path(self) -> Path:
        return self.state_dir / "slurm.conf"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "log"

    @property
    def spool_dir(self) -> Path:
        return self.state_dir / "spool"

    @property
    def ctld_state_dir(self) -> Path:
        return self.state_dir / "state"

    @property
    def pid_dir(self) -> Path:
        return self.state_dir / "run"

    def slurmd_log(self, node: str) -> Path:
        """The node's ``SlurmdLogFile`` (matches ``slurmd-%n.log`` in the template)."""
        return self.log_dir / f"slurmd-{node}.log"


def cluster_spec(source: str = "<cluster options>", **values: Any) -> ClusterSpec:
    """Build a :class:`ClusterSpec`; pydantic's report becomes chiltepin's :class:`ConfigError`.

    ``None`` values mean "not given" and fall back to the defaults, so CLI options can be passed
    through unchanged.
    """
    given = {key: value for key, value in values.items() if value is not None}
    try:
        return ClusterSpec(**given)
    except ValidationError as err:
        errors = [
            ConfigError(
                str(item["msg"]).removeprefix("Value error, "),
                source=source,
                key=".".join(str(p) for p in item["loc"]) or None,
            )
            for item in err.errors()
            # "default factory not called" only echoes an error already reported for `name`.
            if item["type"] != "default_factory_not_called"
        ]
        raise ConfigErrors(errors) from None


# --- rendering ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeConf:
    """One ``NodeName=`` line. ``None`` fields are left out (Slurm then uses its defaults)."""

    name: str
    cpus: int
    real_memory: int
    addr: str | None = None
    hostname: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class PartitionConf:
    """One ``PartitionName=`` line; ``nodes`` is ``"ALL"`` or a list of node names."""

    name: str
    nodes: str | list[str] = "ALL"
    default: bool = True
    max_time: str = "UNLIMITED"


@dataclass(frozen=True)
class ControllerConf:
    """``SlurmctldHost=name(addr)`` and ``SlurmctldPort``."""

    name: str
    port: int
    addr: str | None = None


@dataclass(frozen=True)
class SlurmConf:
    """Everything the template needs; both clusters fill this in and nothing else."""

    cluster_name: str
    controller: ControllerConf
    nodes: list[NodeConf]
    partitions: list[PartitionConf]
    state_save_dir: str
    slurmd_spool_dir: str
    log_dir: str
    pid_dir: str
    auth: Literal["none", "munge"] = "none"
    loopback_only: bool = False
    slurm_user: str = "root"
    slurmd_timeout: int = 10
    message_timeout: int = 10
    default_slurmd_port: int | None = None


def template_path() -> Path:
    """``docker/slurm/slurm.conf.j2`` in the checkout or the installed wheel."""
    return data_dir("docker") / "slurm" / TEMPLATE_NAME


def render_conf(conf: SlurmConf) -> str:
    """Render the one ``slurm.conf`` template with ``conf``."""
    path = template_path()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(path.parent)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    fields = {name: getattr(conf, name) for name in conf.__dataclass_fields__}
    return env.get_template(path.name).render(**fields)


def _current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        return "root"


def single_host_conf(spec: ClusterSpec) -> SlurmConf:
    """The :class:`SlurmConf` of a single-host cluster (ports must be resolved)."""
    ctld_port = ClusterSpec._require_port(spec.ctld_port, "ctld_port")
    ports = spec.node_ports
    return SlurmConf(
        cluster_name=spec.name,
        controller=ControllerConf(name="localhost", addr=LOOPBACK, port=ctld_port),
        nodes=[
            NodeConf(
                name=node,
                addr=LOOPBACK,
                hostname="localhost",
                port=ports[node],
                cpus=spec.cpus,
                real_memory=spec.real_memory,
            )
            for node in spec.node_names
        ],
        partitions=[PartitionConf(name=spec.partition, max_time=spec.max_time)],
        state_save_dir=str(spec.ctld_state_dir),
        slurmd_spool_dir=str(spec.spool_dir),
        log_dir=str(spec.log_dir),
        pid_dir=str(spec.pid_dir),
        auth="none",
        loopback_only=True,
        slurm_user=_current_user(),
        slurmd_timeout=spec.slurmd_timeout,
        message_timeout=spec.message_timeout,
    )


def render_slurm_conf(spec: ClusterSpec) -> str:
    """``slurm.conf`` text for the single-host cluster described by ``spec``."""
    return render_conf(single_host_conf(spec))
