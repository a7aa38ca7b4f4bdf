"""Chiltepin 0.1.7 resource files, read as chiltepin sites files.

Chiltepin 0.1.7 (NOAA-GSL) describes each resource as one flat mapping::

    compute:
      provider: slurm
      partition: hera
      queue: batch            # the Slurm QOS (or the PBS queue)
      account: gsd-hpcs
      environment: ["module load ..."]
      endpoint: 6f1c...       # present for Globus Compute endpoints

Each resource becomes a site entry with its site written inline. Every key is accounted
for: keys chiltepin has no equivalent for are refused with the list of those it has,
instead of being silently ignored as 0.1.7 did.
"""

from __future__ import annotations

from typing import Any

from chiltepin.errors import ConfigError
from chiltepin.sites.model import walltime_seconds
from chiltepin.yamlfile import LocatedData

_PROVIDERS = {"localhost": "local", "slurm": "slurm", "pbspro": "pbspro"}
_SAME_NAME = (
    "init_blocks",
    "min_blocks",
    "max_blocks",
    "cores_per_node",
    "nodes_per_block",
    "exclusive",
    "partition",
    "account",
    "walltime",
    "cores_per_worker",
    "max_workers_per_node",
    "mpi",
    "max_mpi_apps",
    "mpi_launcher",
)
SUPPORTED_KEYS = frozenset({*_SAME_NAME, "provider", "environment", "queue", "endpoint"})


def looks_like_chiltepin_017(data: dict[str, Any]) -> bool:
    """A mapping of resource name → mapping with 0.1.7's tell-tale keys, and no ``sites``."""
    return (
        bool(data)
        and "sites" not in data
        and all(
            isinstance(v, dict) and bool(v.keys() & {"provider", "endpoint", "environment"})
            for v in data.values()
        )
    )


def _site(name: str, resource: dict[str, Any], located: LocatedData) -> dict[str, Any]:
    provider = resource.get("provider", "localhost")
    if provider not in _PROVIDERS:
        raise ConfigError(
            f"provider must be one of {', '.join(_PROVIDERS)}; got {provider!r}",
            source=located.source,
            key=f"{name}.provider",
            line=located.lines.get((name, "provider")),
        )
    scheduler = _PROVIDERS[provider]
    site: dict[str, Any] = {k: resource[k] for k in _SAME_NAME if k in resource}
    site["scheduler"] = scheduler
    site.setdefault("cores_per_node", "auto" if scheduler == "local" else 1)
    if "environment" in resource:
        site["worker_init"] = list(resource["environment"] or [])
    if "queue" in resource:
        site["qos" if scheduler == "slurm" else "queue"] = resource["queue"]
    # 0.1.7 had no limits: let the resource's own geometry be within them.
    site["limits"] = {
        "max_walltime": _at_least_8h(site.get("walltime")),
        "max_blocks": max(int(site.get("max_blocks", 1)), 10),
        "max_nodes_per_block": max(int(site.get("nodes_per_block", 1)), 16),
    }
    return site


def _at_least_8h(walltime: Any) -> str:
    try:
        return walltime if walltime_seconds(str(walltime)) > 8 * 3600 else "08:00:00"
    except ValueError:  # not HH:MM:SS: the site's own validation reports it
        return "08:00:00"


def convert(located: LocatedData) -> LocatedData:
    """A Chiltepin 0.1.7 resource file → the data of a chiltepin sites file."""
    sites: dict[str, Any] = {}
    for name, resource in located.data.items():
        unknown = sorted(set(resource) - SUPPORTED_KEYS)
        if unknown:
            raise ConfigError(
                f"Chiltepin 0.1.7 key {unknown[0]!r} has no chiltepin equivalent; supported"
                f" keys: {', '.join(sorted(SUPPORTED_KEYS))}",
                source=located.source,
                key=f"{name}.{unknown[0]}",
                line=located.lines.get((name, unknown[0])),
            )
        entry: dict[str, Any] = {"site": _site(name, resource, located)}
        if resource.get("endpoint"):
            entry["endpoint_id"] = resource["endpoint"]
        else:
            entry["kind"] = "local"
        sites[name] = entry
    return LocatedData(data={"sites": sites}, source=located.source)
