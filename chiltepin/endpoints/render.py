"""Turn a :class:`Site` into the files of a template-capable Globus Compute endpoint.

The endpoint directory holds four files chiltepin writes (``config.yaml``,
``user_config_template.yaml.j2``, ``user_config_schema.json``, ``user_environment.yaml``)
plus ``chiltepin-site.json``, the resolved site, so later commands (and the federation) know
what the endpoint serves without re-reading the user's YAML, and ``worker_log_config.pkl``,
the log config its workers read (warnings only, see :func:`worker_launch_cmd`).
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from chiltepin import __version__
from chiltepin.endpoints.options import schema_for
from chiltepin.paths import data_dir
from chiltepin.sites import allowlist
from chiltepin.sites.model import Container, Scheduler, Site
from chiltepin.upstream import config as upstream
from chiltepin.upstream import engine as upstream_engine

SITE_RECORD = "chiltepin-site.json"
USER_TEMPLATE = "user_config_template.yaml.j2"
USER_SCHEMA = "user_config_schema.json"
WORKER_LOG_CONFIG = "worker_log_config.pkl"


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(data_dir("templates")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


#: docker/podman run options for every worker container: removed when its worker pool exits,
#: and on the node's network, so the interchange address (127.0.0.1 on a one-host cluster)
#: means the same inside the container as outside it.
_DOCKER_RUN_OPTIONS = "--rm --network host"


def _bind_options(container: Container) -> str:
    """Container runtime options mounting the site's binds, shell-quoted.

    A bind that names only a host directory mounts it at the same path: apptainer does
    that itself, docker and podman need ``dir:dir``.
    """
    flag = "-B" if container.runtime in {"apptainer", "singularity"} else "-v"
    mounts = (b if flag == "-B" or ":" in b else f"{b}:{b}" for b in container.bind)
    binds = " ".join(f"{flag} {shlex.quote(m)}" for m in mounts)
    if flag == "-B":
        return binds
    return f"{_DOCKER_RUN_OPTIONS} {binds}".strip()


def _batchless_mpi_init(site: Site) -> list[str]:
    """Lines that let Parsl's MPI mode run where there is no batch scheduler.

    Parsl's MPI manager learns its nodes from ``$SLURM_NODELIST`` or ``$PBS_NODEFILE`` and
    refuses to start without one; on a machine with no scheduler the only node is this
    one, so we hand it a one-line node file naming it.
    """
    if site.scheduler is not Scheduler.local:
        return []
    return [
        "_chiltepin_nodefile=$(mktemp)",
        'echo localhost > "$_chiltepin_nodefile"',
        'export PBS_NODEFILE="$_chiltepin_nodefile"',
    ]


def site_defaults(site: Site, worker_launch_cmd: str | None = None) -> dict[str, Any]:
    """The values the user endpoint template reads as ``site``, before encoding.

    ``worker_launch_cmd`` replaces Parsl's own (see :func:`worker_launch_cmd`); None keeps it.
    """
    tolerance = site.tolerance
    container = site.container
    return {
        "display_name": f"chiltepin {site.name}",
        "label": f"chiltepin-{site.name}",
        "scheduler": site.scheduler.value,
        "partition": site.partition,
        "queue": site.queue,
        "qos": site.qos,
        "account": site.account,
        "clusters": site.clusters,
        "scheduler_options": "\n".join(site.scheduler_options),
        "walltime": site.walltime,
        "nodes_per_block": site.nodes_per_block,
        "cores_per_node": site.cores_per_node,
        "memory_per_node_gb": site.memory_per_node_gb,
        "max_workers_per_node": site.max_workers_per_node,
        "cores_per_worker": site.cores_per_worker,
        "init_blocks": site.init_blocks,
        "min_blocks": site.min_blocks,
        "max_blocks": site.max_blocks,
        "exclusive": site.exclusive,
        "mpi": site.mpi,
        "mpi_launcher": site.mpi_launcher.value,
        "max_mpi_apps": site.max_mpi_apps,
        "worker_init": "\n".join(site.worker_init),
        "worker_init_mpi": "\n".join([*site.worker_init, *_batchless_mpi_init(site)]),
        "address": site.address,
        "encrypted": site.encrypted,
        "engine_debug": site.engine_debug,
        "worker_launch_cmd": worker_launch_cmd,
        "container_runtime": container.runtime if container else None,
        "container_image": shlex.quote(container.image) if container else None,
        "container_cmd_options": _bind_options(container) if container else None,
        "worker_heartbeat_period": tolerance.worker_heartbeat_period,
        "worker_heartbeat_threshold": tolerance.worker_heartbeat_threshold,
        "drain_margin": tolerance.drain_margin or 0,
        "endpoint_heartbeat_period": tolerance.endpoint_heartbeat_period,
        "idle_heartbeats_soft": tolerance.idle_heartbeats_soft,
        "idle_heartbeats_hard": tolerance.idle_heartbeats_hard,
        "max_retries_on_system_failure": tolerance.max_retries_on_system_failure,
        "strategy_period": tolerance.strategy_period,
        "max_idletime": site.max_idletime,
    }


def user_config_template(site: Site, source: str, worker_launch_cmd: str | None = None) -> str:
    """The shipped template behind a header that sets ``site`` to this site's defaults.

    The defaults are encoded exactly like submit-time options, so the template treats a
    site value and a user override the same way. JSON of those values is a valid Jinja
    literal (no ``null`` survives the encoding: absent values become the string "null").
    """
    defaults = site_defaults(site, worker_launch_cmd)
    encoded = json.dumps(upstream.encode_like_user_options(defaults), indent=2)
    # The source is a user's path: JSON-escaped, and unable to end the comment it sits in.
    quoted_source = json.dumps(source).replace("#}", "#\\u007d")
    header = (
        f"{{#- Site defaults from {quoted_source}, written by chiltepin {__version__}."
        " Edit the site file and re-run `chiltepin endpoint configure`, not this header. -#}\n"
        f"{{%- set site = {encoded} %}}\n"
    )
    return header + (data_dir("templates") / USER_TEMPLATE).read_text()


def user_environment_path() -> str:
    """PATH for user endpoints: this Python environment's ``bin`` first.

    HTEX starts its interchange and workers through console scripts of the environment
    that runs the engine; without this they are not found under a minimal PATH.
    """
    return ":".join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])


@dataclass(frozen=True)
class EndpointRequest:
    """What ``chiltepin endpoint configure`` was asked for."""

    endpoint_name: str
    site: Site
    site_ref: str
    local_compute_services: bool = False
    contact_email: str | None = None
    environment: tuple[tuple[str, str], ...] = ()
    identity_mapping: str | None = None
    """Absolute path of an identity mapping (multi-user: the endpoint runs as root and
    starts each identity's user endpoint as the local account it maps to)."""


def worker_launch_cmd(request: EndpointRequest, directory: Path) -> str | None:
    """The launch command that makes the endpoint's workers log warnings only, or None
    where they keep Parsl's level.

    At Parsl's default level every worker logs each task it runs (three lines). An
    endpoint builds its engine from YAML, which cannot hand the executor a log config (as
    the embedded engine does); Parsl's worker pool also reads one from a file
    (``--logconf``), so the launch command names :data:`WORKER_LOG_CONFIG` in
    ``directory``, the endpoint directory. Workers read it where they run, as they write
    their logs under the user endpoints' directories, which sit beside it by default.
    None when the site asks for ``engine_debug`` (``worker_debug`` then), when workers run
    in a container (the file is not mounted there), for a multi-user endpoint (its
    directory is root's: the mapped accounts' workers cannot read it), and for a path a
    launch command cannot carry unquoted.
    """
    site = request.site
    if site.engine_debug or site.container or request.identity_mapping:
        return None
    path = str(directory.resolve() / WORKER_LOG_CONFIG)
    if shlex.quote(path) != path:
        return None
    return upstream_engine.worker_launch_cmd(path)


def endpoint_files(request: EndpointRequest, directory: Path) -> dict[str, str]:
    """File name → content for a complete endpoint directory, to be written at
    ``directory`` (the workers' launch command names a file there)."""
    site = request.site
    env = _templates()
    config = env.get_template("config.yaml.j2").render(
        endpoint_name=request.endpoint_name,
        site=site,
        site_ref=request.site_ref,
        display_name=f"chiltepin {site.name} ({request.endpoint_name})",
        contact_email=request.contact_email,
        local_compute_services=request.local_compute_services,
        chiltepin_version=__version__,
        identity_mapping=request.identity_mapping,
        allowed_functions=(
            None if site.allowed_functions is None else allowlist.resolve(site.allowed_functions)
        ),
    )
    extra = dict(request.environment)
    environment = env.get_template("user_environment.yaml.j2").render(
        path=extra.pop("PATH", user_environment_path()), extra=extra
    )
    return {
        "config.yaml": config,
        USER_TEMPLATE: user_config_template(
            site, request.site_ref, worker_launch_cmd(request, directory)
        ),
        USER_SCHEMA: json.dumps(schema_for(site), indent=2) + "\n",
        "user_environment.yaml": environment,
        SITE_RECORD: json.dumps(
            {"site_ref": request.site_ref, "site": site.model_dump(mode="json")}, indent=2
        )
        + "\n",
        WORKER_LOG_CONFIG: upstream_engine.log_config_text(),
    }


def render_for_options(site: Site, options: dict[str, Any], source: str) -> str:
    """The user endpoint config a running endpoint would render for ``options``.

    Uses the endpoint's own renderer; a schema rejection raises ``jsonschema.ValidationError``
    (callers validate first with :func:`chiltepin.endpoints.options.validate_user_options`
    for a friendlier message).
    """
    template = user_config_template(site, source)
    return upstream.render_user_config(
        template, data_dir("templates") / USER_TEMPLATE, schema_for(site), options
    )
