"""Where chiltepin's data directories (``endpoints/``, ``templates/``, ``docker/``) live.

The same files must be found in two layouts:

* a source checkout (``pip install -e .`` or running from the repository): they sit next to the
  package, at ``<repo>/endpoints``, ``<repo>/templates`` and ``<repo>/docker``;
* an installed wheel: ``pyproject.toml`` force-includes them as ``chiltepin/_data/<kind>``.

The wheel location is tried first. The checkout location is only accepted when
``<repo>/pyproject.toml`` exists too, because in an installed wheel ``parents[1]`` is
``site-packages``, where an unrelated distribution may own a top-level ``docker/`` or
``templates/`` directory (docker-py installs ``site-packages/docker``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

import chiltepin
from chiltepin.errors import ChiltepinError

DataKind = Literal["endpoints", "templates", "docker"]

DATA_KINDS: tuple[str, ...] = get_args(DataKind)


def package_dir() -> Path:
    """The installed ``chiltepin`` package directory."""
    return Path(chiltepin.__file__).resolve().parent


def source_root() -> Path | None:
    """The repository root when running from a source checkout, else ``None``."""
    root = package_dir().parent
    return root if (root / "pyproject.toml").is_file() else None


def data_dir(kind: str) -> Path:
    """Directory holding the data files of ``kind`` ("endpoints", "templates" or "docker").

    Raises :class:`ChiltepinError` naming every place that was tried, so a broken install is
    reported as such rather than as a missing template further down.
    """
    if kind not in DATA_KINDS:
        raise ChiltepinError(f"unknown data kind {kind!r}; allowed: {', '.join(DATA_KINDS)}")
    tried: list[Path] = []
    installed = package_dir() / "_data" / kind
    tried.append(installed)
    if installed.is_dir():
        return installed
    root = source_root()
    if root is not None:
        checkout = root / kind
        tried.append(checkout)
        if checkout.is_dir():
            return checkout
    raise ChiltepinError(
        f"chiltepin data directory {kind!r} not found; looked in: "
        + ", ".join(str(p) for p in tried)
    )
