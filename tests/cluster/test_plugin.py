"""The Slurm pytest plugin marks cluster tests ``slurm`` (a missing part fails them:
tests/system/test_missing_parts.py)."""

from __future__ import annotations

import pytest


def test_cluster_tests_are_marked_slurm(request: pytest.FixtureRequest) -> None:
    session_items = request.session.items
    marked = {i.name for i in session_items if i.get_closest_marker("slurm")}
    users = {i.name for i in session_items if "slurm_cluster" in getattr(i, "fixturenames", ())}
    assert users <= marked
