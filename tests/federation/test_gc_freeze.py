"""While a federation runs, full garbage collections skip what existed before it."""

from __future__ import annotations

import gc
from pathlib import Path

from chiltepin.client.config import FederationConfig
from chiltepin.federation import Federation

SITES = {"only": {"kind": "local", "site": "localhost"}}


def test_objects_from_before_a_run_are_frozen_until_the_last_federation_stops(
    tmp_path: Path,
) -> None:
    assert gc.get_freeze_count() == 0, "a federation from another test is still running"
    keep = [object()]  # a container, so the collector tracks it
    with Federation(SITES, run_dir=tmp_path / "a", progress=False):
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # the imported stack, at least
        assert not any(o is keep for o in gc.get_objects())  # out of the collector's walk
        with Federation(SITES, run_dir=tmp_path / "b", progress=False):
            # Frozen once, not again per federation (frozen objects may still die).
            assert gc.get_freeze_count() <= frozen
        assert gc.get_freeze_count() > 10_000  # the first one still runs
    assert gc.get_freeze_count() == 0
    assert any(o is keep for o in gc.get_objects())  # handed back to the collector


def test_gc_freeze_false_leaves_the_collector_alone(tmp_path: Path) -> None:
    assert gc.get_freeze_count() == 0, "a federation from another test is still running"
    with Federation(SITES, run_dir=tmp_path / "a", progress=False, gc_freeze=False) as fed:
        assert fed.submit(abs, -3).result(60) == 3
        assert gc.get_freeze_count() == 0
    config = FederationConfig.model_validate({"sites": SITES, "gc_freeze": False})
    with Federation(config, run_dir=tmp_path / "b", progress=False):
        assert gc.get_freeze_count() == 0
