"""A file:// staging pair under a test's tmp_path, shared by the staging queue's tests."""

from __future__ import annotations

from pathlib import Path

from chiltepin.federation.staging import Pair
from chiltepin.staging import Location


def pair(tmp_path: Path, name: str, content: str | None = None) -> Pair:
    """``home/NAME`` (written with ``content`` unless None) to ``site/NAME``."""
    src = tmp_path / "home" / name
    if content is not None:
        src.parent.mkdir(exist_ok=True)
        src.write_text(content)
    return Location.parse(f"file://{src}"), Location.parse(f"file://{tmp_path}/site/{name}")
