"""The pytest plugin's contract: no Slurm means skip locally, but fail under CI=true."""

from __future__ import annotations

import pytest

from chiltepin.cluster import pytest_plugin
from chiltepin.cluster.pytest_plugin import require_slurm, running_in_ci


@pytest.fixture
def no_slurm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytest_plugin, "missing_binaries", lambda: ["slurmctld", "sinfo"])


@pytest.mark.usefixtures("no_slurm")
@pytest.mark.parametrize("ci", ["true", "1", "TRUE"])
def test_missing_slurm_fails_in_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    assert running_in_ci()
    with pytest.raises(pytest.fail.Exception, match=r"slurmctld, sinfo not found.*CI=true"):
        require_slurm()


@pytest.mark.usefixtures("no_slurm")
@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_missing_slurm_skips_outside_ci(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match=r"Slurm not available.*slurmctld"):
        require_slurm()


def test_cluster_tests_are_marked_slurm(request: pytest.FixtureRequest) -> None:
    session_items = request.session.items
    marked = {i.name for i in session_items if i.get_closest_marker("slurm")}
    users = {i.name for i in session_items if "slurm_cluster" in getattr(i, "fixturenames", ())}
    assert users <= marked
