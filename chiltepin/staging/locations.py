"""Where data is: ``globus://<collection>/<path>`` and ``file:///<path>``, and per-site templates.

Why URLs: one string says both *which* store (a Globus collection by UUID or exact display
name, or this machine's file system) and *where* in it, so a task description can list
its inputs and outputs as plain text and mean the same thing on every site.

Why templates: the same task runs on Hera, on a laptop and on a cloud cluster, whose
scratch directories and collections differ. A location may use ``{scratch}``, ``{run_id}``,
``{task_id}``, ``{user}`` and ``{collection}``; :func:`expand` fills them from a mapping the
caller builds per site (:func:`site_values` builds it from a site's ``transfer`` block).
``{{`` and ``}}`` are literal braces.

A trailing ``/`` (or ``recursive=True``) makes a location a directory tree. Paths are
POSIX; Globus paths may start with ``/~/`` (the collection's home). Percent-escapes are
decoded in the collection part only (``%2F`` for a ``/`` inside a display name).
"""

from __future__ import annotations

import getpass
import posixpath
import re
import string
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote, unquote

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from chiltepin.staging.errors import StagingError

TEMPLATE_NAMES = ("scratch", "run_id", "task_id", "user", "collection")
"""The placeholders chiltepin fills per site; a caller's mapping may add more."""

FORMS = "globus://<collection UUID or exact display name>/<path> or file:///<absolute path>"


class LocationError(StagingError):
    """A location string is malformed or uses an unknown template placeholder."""


class Location(BaseModel):
    """A file or directory tree in a Globus collection or on this machine."""

    model_config = ConfigDict(frozen=True)

    scheme: Literal["globus", "file"]
    collection: str | None = None
    path: str
    recursive: bool = False

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith(("/", "~")):
            raise ValueError(f"path must be absolute (start with / or /~/), got {value!r}")
        home = value.startswith(("/~", "~"))
        rest = value[2:] if value.startswith("/~") else value[1:] if home else value
        norm = posixpath.normpath("/" + rest.lstrip("/"))
        if norm.startswith("//"):
            norm = norm[1:]
        if home:
            return "/~" + (norm if norm != "/" else "/")
        return norm

    @model_validator(mode="after")
    def _collection_matches_scheme(self) -> Location:
        if self.scheme == "globus" and not self.collection:
            raise ValueError("a globus:// location needs a collection")
        if self.scheme == "file" and self.collection:
            raise ValueError("a file:// location has no collection")
        return self

    # -- parsing ----------------------------------------------------------------------
    @classmethod
    def parse(cls, value: str | Location, *, recursive: bool | None = None) -> Location:
        """Parse a location string (or pass a ``Location`` through).

        ``recursive`` overrides the trailing-slash rule when given.
        """
        if isinstance(value, Location):
            return value if recursive is None else value.model_copy(update={"recursive": recursive})
        text = str(value).strip()
        try:
            if text.startswith("globus://"):
                rest = text[len("globus://") :]
                name, slash, path = rest.partition("/")
                if not name or not slash:
                    raise ValueError("needs a collection and a path after globus://")
                loc: dict[str, Any] = {
                    "scheme": "globus",
                    "collection": unquote(name),
                    "path": "/" + path,
                }
            elif text.startswith("file://"):
                rest = text[len("file://") :]
                host, slash, path = rest.partition("/")
                if host not in ("", "localhost") or not slash:
                    raise ValueError("file:// locations are on this machine: file:///abs/path")
                loc = {"scheme": "file", "path": "/" + path}
            elif text.startswith("/"):
                loc = {"scheme": "file", "path": text}
            else:
                raise ValueError(f"expected {FORMS}")
            trailing = text.endswith("/") and len(loc["path"]) > 1
            loc["recursive"] = trailing if recursive is None else recursive
            return cls.model_validate(loc)
        except ValueError as exc:
            raise LocationError(f"bad location {text!r}: {_reason(exc)}") from None

    # -- views ------------------------------------------------------------------------
    @property
    def is_globus(self) -> bool:
        return self.scheme == "globus"

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.rstrip("/"))

    def child(self, name: str) -> Location:
        """This directory's entry ``name`` (a file location)."""
        return self.model_copy(update={"path": posixpath.join(self.path, name), "recursive": False})

    def __str__(self) -> str:
        tail = "/" if self.recursive and self.path != "/" else ""
        if self.scheme == "file":
            return f"file://{self.path}{tail}"
        assert self.collection is not None
        return f"globus://{quote(self.collection, safe=' {}~:@!$&()*+,;=')}{self.path}{tail}"


def _reason(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(str(e.get("msg", e)).removeprefix("Value error, ") for e in errors())
    return str(exc)


# -- templates --------------------------------------------------------------------------
def placeholders(text: str) -> list[str]:
    """The ``{name}`` placeholders used in ``text``."""
    try:
        return [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise LocationError(f"bad template {text!r}: {exc}") from None


def _fill(text: str, values: Mapping[str, Any], what: str) -> str:
    names = placeholders(text)
    for name in names:
        if not name.isidentifier():
            raise LocationError(f"{what}: placeholder {{{name}}} is not a plain name")
        if name not in values or values[name] is None:
            known = sorted(k for k, v in values.items() if v is not None)
            raise LocationError(
                f"{what} uses {{{name}}}, which has no value here; known: {', '.join(known)}"
                f" (chiltepin fills {', '.join(TEMPLATE_NAMES)})"
            )
    return text.format_map({k: str(v) for k, v in values.items() if v is not None})


def resolve_values(values: Mapping[str, Any]) -> dict[str, str]:
    """Expand values that refer to other values (``scratch: /scratch/{user}/{run_id}``)."""
    done = {k: None if v is None else str(v) for k, v in values.items()}
    for _ in range(len(done) + 1):
        changed = False
        for key, value in done.items():
            if value is not None and placeholders(value):
                refs = [n for n in placeholders(value) if n != key]
                if all(done.get(r) is not None and not placeholders(done[r] or "") for r in refs):
                    done[key] = _fill(value, done, f"template value {key}={value!r}")
                    changed = True
        if not changed:
            break
    bad = {k: v for k, v in done.items() if v is not None and placeholders(v)}
    for key, value in bad.items():
        unknown = [n for n in placeholders(value) if done.get(n) is None]
        if unknown:
            known = ", ".join(sorted(k for k, v in done.items() if v is not None and k not in bad))
            raise LocationError(
                f"template value {key}={value!r} uses {{{unknown[0]}}}, which has no value"
                f" here; values: {known}"
            )
    if bad:
        raise LocationError(f"template values refer to each other in a cycle: {bad}")
    return {k: v for k, v in done.items() if v is not None}


def expand(location: str | Location, values: Mapping[str, Any]) -> Location:
    """Fill ``{scratch}``, ``{run_id}``, ``{task_id}``, ``{user}``, ``{collection}`` (and any
    other names in ``values``) in a location, then parse it.

    The federation calls this once per site: the same stage-in list works everywhere.
    """
    if isinstance(location, Location):
        text, recursive = str(location), location.recursive
    else:
        text, recursive = str(location), None
    resolved = resolve_values(values)
    filled = _fill(text, resolved, f"location {text!r}")
    return confined(Location.parse(filled, recursive=recursive), text, resolved)


ROOTS = ("scratch",)
"""Placeholders naming a per-run root a location written under it may not leave."""
_UNDER_ROOT = re.compile(r"(?:file://(?:localhost)?|globus://[^/]+)?/?\{(\w+)\}")


def confined(location: Location, template: str, values: Mapping[str, str]) -> Location:
    """``location``, refused if its template starts under a root (``{scratch}/...``) and
    ``..`` took it outside that root: a task's paths on a site stay in its work area."""
    under = _UNDER_ROOT.match(template)
    root = under.group(1) if under else None
    if root in ROOTS and root in values:
        base = posixpath.normpath("/" + values[root].lstrip("/"))
        if location.path != base and not location.path.startswith(base.rstrip("/") + "/"):
            raise LocationError(
                f"location {template!r} leaves {{{root}}} ({base}): it resolves to"
                f" {location.path}; paths written under {{{root}}} must stay inside it"
            )
    return location


def at_site(path: str, values: Mapping[str, Any], *, recursive: bool | None = None) -> Location:
    """A path on a site: in the site's Transfer collection when it has one (``collection``
    in ``values``), else on this machine (``file://``), e.g. ``at_site("{scratch}/in/",
    values)``. Lets one task description name site-side paths without knowing how the site
    is reached."""
    resolved = resolve_values(values)
    filled = _fill(path, resolved, f"site path {path!r}")
    if not filled.startswith("/"):
        raise LocationError(f"site path {path!r} must be absolute after expansion: {filled!r}")
    collection = resolved.get("collection")
    text = f"globus://{quote(collection, safe=' ~')}{filled}" if collection else f"file://{filled}"
    return confined(Location.parse(text, recursive=recursive), path, resolved)


def site_values(
    transfer: Any = None,
    *,
    run_id: str,
    task_id: str | None = None,
    user: str | None = None,
    scratch: str | None = None,
    collection: str | None = None,
    **extra: Any,
) -> dict[str, str]:
    """Template values for one site: ``scratch`` and ``collection`` from its ``transfer``
    block (a :class:`chiltepin.sites.model.Transfer`, a ``Site`` or a mapping), unless given.
    """
    block = getattr(transfer, "transfer", transfer)  # a Site carries .transfer
    if isinstance(block, Mapping):
        block_scratch, block_collection = block.get("scratch"), block.get("collection")
    else:
        block_scratch = getattr(block, "scratch", None)
        block_collection = getattr(block, "collection", None)
    values: dict[str, Any] = {
        "run_id": run_id,
        "task_id": task_id,
        "user": user or _user(),
        "scratch": scratch or block_scratch,
        "collection": collection or block_collection,
        **extra,
    }
    return resolve_values(values)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
