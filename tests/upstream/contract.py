"""What a broken upstream contract says: the symbol, the package, the pinned version."""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

_REQUIREMENT = re.compile(r"\s*(?P<name>[A-Za-z0-9_.-]+)\s*(?P<spec>[^;]*)")


def pinned(dist: str) -> str:
    """``dist``'s requirement as chiltepin declares it (e.g. ``==4.19.0``)."""
    for line in importlib.metadata.requires("chiltepin") or []:
        match = _REQUIREMENT.match(line)
        if match and match["name"] == dist:
            return match["spec"].strip()
    return "(not declared)"


def broken(symbol: str, dist: str, expected: str) -> str:
    installed = importlib.metadata.version(dist)
    return (
        f"upstream contract broken: {symbol} of {dist} {installed} (chiltepin pins"
        f" {pinned(dist)}) no longer {expected}; update chiltepin/upstream and this test"
    )


@contextmanager
def contract(symbol: str, dist: str, expected: str) -> Iterator[None]:
    """Fail with :func:`broken` when the block finds ``symbol`` moved or changed."""
    try:
        yield
    except (AssertionError, AttributeError, ImportError, KeyError, TypeError, ValueError) as err:
        pytest.fail(f"{broken(symbol, dist, expected)} ({type(err).__name__}: {err})")
