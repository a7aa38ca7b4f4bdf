"""The page's files, shipped in the package: the server serves them, a saved report
(:mod:`chiltepin.dashboard.export`) inlines them, so both show the same page."""

from __future__ import annotations

from importlib import resources


def asset(name: str) -> bytes:
    """The bytes of ``static/<name>``."""
    return (resources.files("chiltepin.dashboard") / "static" / name).read_bytes()
