"""Function allow-lists: which registered functions an endpoint may run.

A site file's ``allowed_functions`` is a list of entries, or the path of a file with one
entry per line (``#`` starts a comment). An entry is a function UUID, optionally followed
by the ``module:function`` it was registered from::

    6b1c...-...  mypkg.forecast:run_member

The ids go into the endpoint's ``config.yaml`` (the endpoint sends them to the service when
it registers, and its user endpoints refuse anything else). The names let a federation
submit a Python function to that endpoint by the id an administrator allowed for it
(:class:`AllowList`): without a name an id can still be run, but chiltepin cannot tell
which function it is.

This is the allow-list's one home: the site model checks entries with it, the endpoint
renderer and ``chiltepin endpoint allow`` write them, the federation's endpoint backend
looks functions up in it. It sits in the sites layer (the top one) so that each of those
can import it and it imports none of them.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chiltepin.errors import ConfigError
from chiltepin.yamlfile import read_text


@dataclass(frozen=True)
class Allowed:
    function_id: str
    name: str | None = None  # module:function

    def line(self) -> str:
        return f"{self.function_id} {self.name}" if self.name else self.function_id


def function_name(fn: Callable[..., Any]) -> str:
    """``module:qualname``: how an allow-list names a Python function."""
    return f"{fn.__module__}:{fn.__qualname__}"


def parse_entry(text: str, source: str) -> Allowed:
    """One entry; a :class:`ConfigError` naming ``source`` and the entry when it is bad."""
    parts = text.split()
    if not parts or len(parts) > 2:
        raise ConfigError(f"expected 'UUID [module:function]', got {text!r}", source=source)
    try:
        function_id = str(uuid.UUID(parts[0]))
    except ValueError:
        raise ConfigError(
            f"{parts[0]!r} is not a function UUID (entries are 'UUID [module:function]')",
            source=source,
        ) from None
    name = parts[1] if len(parts) == 2 else None
    if name is not None and (":" not in name or name.startswith(":") or name.endswith(":")):
        raise ConfigError(f"{name!r} is not module:function", source=source)
    return Allowed(function_id, name)


def check_entries(value: list[str] | str | None) -> list[str] | str | None:
    """Pydantic check of a site's ``allowed_functions`` list (a file is read when used)."""
    if isinstance(value, list):
        for entry in value:
            try:
                parse_entry(entry, "allowed_functions")
            except ConfigError as err:
                raise ValueError(err.detail) from None
    return value


def read_file(path: Path) -> list[Allowed]:
    text = read_text(path, "the allowed_functions file")
    return [
        parse_entry(line, f"{path}:{number}")
        for number, raw in enumerate(text.splitlines(), 1)
        if (line := raw.split("#", 1)[0].strip())
    ]


def resolve(value: list[str] | str | None, source: str = "allowed_functions") -> list[Allowed]:
    """The entries of a site's ``allowed_functions`` (a list, or a file path)."""
    if value is None:
        return []
    if isinstance(value, str):
        return read_file(Path(value).expanduser())
    return [parse_entry(entry, f"{source}[{i}]") for i, entry in enumerate(value)]


def add(value: list[str] | str | None, new: Iterable[Allowed]) -> list[str] | str:
    """``value`` with ``new`` entries added: appended to its file when it names one."""
    entries = [a.line() for a in new]
    if isinstance(value, str):
        path = Path(value).expanduser()
        existing = path.read_text() if path.exists() else ""
        if existing and not existing.endswith("\n"):
            existing += "\n"
        path.write_text(existing + "".join(f"{line}\n" for line in entries))
        return value
    return [*(value or []), *entries]


def import_function(name: str) -> Callable[..., Any]:
    """The function ``module:function`` names (a dotted qualname after the colon)."""
    module_name, sep, qualname = name.partition(":")
    if not sep or not module_name or not qualname:
        raise ConfigError(f"expected module:function, got {name!r}")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"cannot import {name}: {err}") from err
    if not callable(target):
        raise ConfigError(f"{name} is not a function")
    return target


class AllowList:
    """What an allow-listed endpoint runs: the ids the service says it allows, named by the
    site file's entries (an entry whose id the service does not allow is left out)."""

    def __init__(self, allowed_ids: Iterable[str], named: Iterable[Allowed]) -> None:
        ids = set(allowed_ids)
        self._ids = {a.name: a.function_id for a in named if a.name and a.function_id in ids}

    def function_id(self, name: str) -> str | None:
        """The allowed id of ``module:function`` ``name``; ``None`` if it has none."""
        return self._ids.get(name)
