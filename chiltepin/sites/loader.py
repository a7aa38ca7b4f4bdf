"""Find and load site files: shipped ones by name, users' own by path, with ``extends``.

A user's file usually says ``extends: hera`` and overrides a few keys (``account``,
``worker_init``). Nested mappings merge key by key; lists and scalars are replaced.
``--set key=value`` overrides from the command line are one more layer on top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from chiltepin.errors import ConfigError
from chiltepin.paths import data_dir
from chiltepin.sites.model import SafeName, Site
from chiltepin.yamlfile import LocatedData, load_mapping, load_text, validate

_MAX_EXTENDS_DEPTH = 8
_MAX_PATH_CHARS = 4096


class _NameOnly(BaseModel):
    name: SafeName


def shipped_site_names() -> list[str]:
    """Names of the site files that ship with chiltepin (``endpoints/*.yaml``)."""
    return sorted(p.stem for p in data_dir("endpoints").glob("*.yaml"))


def site_path(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    """Resolve a shipped site name or a file path to an existing site file."""
    text = str(name_or_path)
    if "\0" in text or len(text) > _MAX_PATH_CHARS:
        raise ConfigError(
            f"not a site name or file path: {text[:80]!r}"
            f" (paths are at most {_MAX_PATH_CHARS} characters, with no NUL byte)"
        )
    candidate = Path(name_or_path).expanduser()
    if relative_to is not None and not candidate.is_absolute():
        candidate = relative_to / candidate
    try:
        if candidate.suffix in {".yaml", ".yml"} and candidate.is_file():
            return candidate.resolve()
    except OSError as err:
        raise ConfigError(f"cannot read site file: {err.strerror}", source=candidate) from None
    shipped = data_dir("endpoints") / f"{text}.yaml"
    if text in shipped_site_names() and shipped.is_file():
        return shipped
    raise ConfigError(
        f"no such site {text!r}; shipped sites: {', '.join(shipped_site_names())}"
        " (or give the path of a .yaml site file)"
    )


def parse_overrides(assignments: list[str]) -> LocatedData:
    """``["account=abc", "tolerance.drain_period=300"]`` → a layer of nested overrides.

    Values are read as YAML scalars so ``nodes_per_block=2`` is an integer and
    ``exclusive=false`` a boolean, exactly as if written in a site file.
    """
    data: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected KEY=VALUE, got {assignment!r}", source="--set")
        try:
            value = load_text(raw, source="--set", key=key) if raw.strip() else ""
        except yaml.YAMLError as err:
            raise ConfigError(f"cannot read value {raw!r}", source="--set", key=key) from err
        target = data
        *parents, leaf = key.strip().split(".")
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError("conflicting --set keys", source="--set", key=key)
        target[leaf] = value
    return LocatedData(data=data, source="--set")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _layers(path: Path, chain: tuple[Path, ...] = ()) -> list[LocatedData]:
    """The file and its ``extends`` ancestors, most specific first."""
    chain = (*chain, path.resolve())
    if len(chain) > _MAX_EXTENDS_DEPTH + 1:
        raise ConfigError(
            f"'extends' chain deeper than {_MAX_EXTENDS_DEPTH}:"
            f" {' -> '.join(p.name for p in chain)}",
            source=chain[0],
            key="extends",
        )
    layer = load_mapping(path)
    if len(chain) > 1:
        layer.data.pop("name", None)  # an ancestor's name is its own, not the child's
    return [layer, *_parents(layer, path.parent, chain)]


def _parents(
    layer: LocatedData, relative_to: Path | None, chain: tuple[Path, ...]
) -> list[LocatedData]:
    """The layers ``layer`` extends (popping its ``extends`` key), or none."""
    parent = layer.data.pop("extends", None)
    if parent is None:
        return []
    line = layer.lines.get(("extends",))
    if not isinstance(parent, str) or not parent.strip():
        raise ConfigError(
            f"must be a shipped site name or a path to a site file; got {parent!r}",
            source=layer.source,
            key="extends",
            line=line,
        )
    try:
        parent_path = site_path(parent, relative_to=relative_to)
    except ConfigError as err:
        raise ConfigError(err.detail, source=layer.source, key="extends", line=line) from None
    if parent_path in chain:
        cycle = " -> ".join(p.name for p in (*chain[chain.index(parent_path) :], parent_path))
        what = "a site cannot extend itself" if parent_path == chain[-1] else "'extends' cycle"
        raise ConfigError(f"{what}: {cycle}", source=layer.source, key="extends", line=line)
    return _layers(parent_path, chain)


def _check_file_name(path: Path, layers: list[LocatedData]) -> None:
    """A site named after its file needs a file name that is a safe site name."""
    if any("name" in layer.data for layer in layers):
        return
    try:
        validate(_NameOnly, LocatedData(data={"name": path.stem}, source=str(path)))
    except ConfigError as err:
        raise ConfigError(
            f"the file name {path.stem!r} is the site's name, and {err.detail.split(';')[0]};"
            " rename the file or add a 'name:' key",
            source=path,
        ) from None


def _resolve(layers: list[LocatedData], name: str, source: str) -> Site:
    """Merge layers (most specific first) over ``name`` and validate once."""
    data: dict[str, Any] = {"name": name}
    for layer in reversed(layers):
        data = _merge(data, layer.data)
    return validate(Site, LocatedData(data=data, source=source), *layers)


def load_site(
    name_or_path: str | Path,
    overrides: list[str] | None = None,
    *,
    relative_to: Path | None = None,
) -> Site:
    """Load, merge and validate a site. The site's name defaults to its file's stem.

    A relative path is looked up from ``relative_to`` (the directory of the file that
    names it) when given, else from the working directory.
    """
    path = site_path(name_or_path, relative_to=relative_to)
    layers = _layers(path)
    if overrides:
        layers.insert(0, parse_overrides(overrides))
    _check_file_name(path, layers)
    return _resolve(layers, path.stem, str(path))


def site_from_mapping(
    data: dict[str, Any],
    name: str,
    source: str,
    overrides: list[str] | None = None,
    *,
    relative_to: Path | None = None,
) -> Site:
    """A site written inline (a sites file entry's ``site:`` mapping); ``extends`` works
    as in a site file."""
    layer = LocatedData(data=dict(data), source=source)
    layers = [layer, *_parents(layer, relative_to, ())]
    if overrides:
        layers.insert(0, parse_overrides(overrides))
    return _resolve(layers, name, source)
