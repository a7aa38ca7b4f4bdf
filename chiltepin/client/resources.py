"""Per-task resources: one vocabulary for users, two destinations on a site.

Users say ``resources={"nodes": 2, "ranks_per_node": 4, "walltime": "00:20:00"}``.
A site needs that split into the *user endpoint options* that choose (and start) a user
endpoint with the right batch geometry, and the *resource specification* the MPI engine
reads per task. Keeping the translation here means the rest of the federation never looks
inside either dictionary.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from chiltepin.errors import ConfigError
from chiltepin.sites.model import SafeName, Site, Walltime
from chiltepin.yamlfile import LocatedData, validate


def _check_launcher_options(value: str) -> str:
    """Launcher flags reach the MPI launch command line as written: allow only flags and
    values made of characters a shell takes literally."""
    if not _LAUNCHER_OPTIONS.fullmatch(value):
        raise ValueError(
            "must be launcher flags separated by spaces, each of letters, digits and"
            f" _ . , : / @ % + = - (e.g. '--cpu-bind=cores --exclusive'); got {value!r}"
        )
    return value


_LAUNCHER_OPTIONS = re.compile(
    r"[A-Za-z0-9_.,:/@%+=-]{1,256}(?: [A-Za-z0-9_.,:/@%+=-]{1,256}){0,63}"
)
LauncherOptions = Annotated[str, AfterValidator(_check_launcher_options)]


class Resources(BaseModel):
    """What one task asks of the site it lands on. Unset fields take the site's defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nodes: int | None = Field(None, ge=1, description="nodes for an MPI task")
    ranks_per_node: int | None = Field(None, ge=1, description="MPI ranks on each node")
    ranks: int | None = Field(None, ge=1, description="total MPI ranks")
    launcher_options: LauncherOptions | None = Field(None, description="extra launcher flags")
    mpi: bool | None = Field(None, description="force the MPI engine (implied by nodes/ranks)")
    walltime: Walltime | None = Field(
        None,
        description="walltime of the batch job the task runs in (HH:MM:SS): a task that"
        " needs longer than the site's default, or a short one that starts sooner in a"
        " short job",
    )
    partition: SafeName | None = Field(None, description="Slurm partition, e.g. a GPU one")
    queue: SafeName | None = Field(None, description="PBS Pro queue")
    qos: SafeName | None = Field(None, description="Slurm quality of service")
    account: SafeName | None = Field(None, description="allocation charged for this task")
    exclusive: bool | None = Field(None, description="whole nodes for the task's batch job")
    max_workers_per_node: int | None = Field(
        None, ge=1, description="tasks a node runs at once, e.g. 1 for a memory-hungry task"
    )
    cores_per_worker: float | None = Field(
        None, gt=0, description="cores each task gets, e.g. 8 for a threaded task"
    )

    @functools.cached_property
    def requested(self) -> dict[str, Any]:
        """The fields this request sets, as the journal keeps them. Worked out once per
        request: a fanout's tasks all share one. Read it; never change it."""
        return self.model_dump(exclude_none=True)

    @property
    def wants_mpi(self) -> bool:
        geometry = (self.nodes, self.ranks_per_node, self.ranks, self.launcher_options)
        return bool(self.mpi) or any(v is not None for v in geometry)


_PASSTHROUGH = (
    "walltime",
    "partition",
    "queue",
    "qos",
    "account",
    "exclusive",
    "max_workers_per_node",
    "cores_per_worker",
)


@dataclass(frozen=True)
class Routing:
    """Where a task goes on one site: user endpoint options + per-task resource spec.
    Shared by every task with the same request (see ``Backend.routing``): never mutated."""

    options: dict[str, Any] = field(default_factory=dict)
    resource_specification: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def key(self) -> tuple[str, str]:
        """Tasks with equal keys share one user endpoint (and one SDK executor)."""
        return (
            json.dumps(self.options, sort_keys=True),
            json.dumps(self.resource_specification, sort_keys=True),
        )


_NO_RESOURCES = Resources()


def parse_resources(value: Resources | dict[str, Any] | None) -> Resources:
    """Validate a user's ``resources=`` argument once, at submit time."""
    if value is None:
        return _NO_RESOURCES
    if isinstance(value, Resources):
        return value
    if not isinstance(value, dict):
        raise ConfigError(f"resources must be a dict or Resources, got {type(value).__name__}")
    return validate(Resources, LocatedData(data=value, source="resources"))


def route(resources: Resources, site: Site, base_options: dict[str, Any]) -> Routing:
    """Translate ``resources`` for ``site`` on top of the site entry's own options."""
    options = dict(base_options)
    for name in _PASSTHROUGH:
        value = getattr(resources, name)
        if value is not None:
            options[name] = value
    spec: dict[str, Any] = {}
    if resources.wants_mpi:
        options["mpi"] = True
        nodes = resources.nodes or 1
        if nodes > options.get("nodes_per_block", site.nodes_per_block):
            options["nodes_per_block"] = nodes
        spec["num_nodes"] = nodes
        if resources.ranks_per_node is not None:
            spec["ranks_per_node"] = resources.ranks_per_node
        if resources.ranks is not None:
            spec["num_ranks"] = resources.ranks
        if resources.launcher_options:
            spec["launcher_options"] = resources.launcher_options
    return Routing(options=options, resource_specification=spec)
