"""One rule for both pytest plugins: a missing Slurm, RabbitMQ or container engine fails the
test, naming what is missing and ``./dev setup``, whatever ``CI`` says (a suite that skips
what it cannot run passes without proving anything)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chiltepin.cluster import pytest_plugin as slurm_plugin
from chiltepin.cluster.engine import NoContainerEngine
from chiltepin.testing import pytest_plugin as standin_plugin


def _no_engine() -> None:
    raise NoContainerEngine("no container engine found: wanted docker or podman")


@pytest.fixture(params=["slurm", "rabbitmq", "podman"])
def missing_service(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> tuple[Callable[[], object], str]:
    """The plugin's ``require_*`` check on a machine without that part, and what it names."""
    if request.param == "slurm":
        monkeypatch.setattr(slurm_plugin, "missing_binaries", lambda: ["slurmctld", "sinfo"])
        return slurm_plugin.require_slurm, "slurmctld, sinfo not found"
    if request.param == "podman":
        monkeypatch.setattr(slurm_plugin, "container_engine", _no_engine)
        return slurm_plugin.require_container_engine, "no container engine found"
    monkeypatch.setattr(standin_plugin, "rabbitmq_installed", lambda: "rabbitmq-server")
    return standin_plugin.require_rabbitmq, "RabbitMQ: missing rabbitmq-server"


@pytest.mark.parametrize("ci", [None, "", "false", "0", "true", "1"])
def test_a_missing_part_fails_never_skips_whatever_ci_says(
    monkeypatch: pytest.MonkeyPatch,
    missing_service: tuple[Callable[[], object], str],
    ci: str | None,
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    require, named = missing_service
    with pytest.raises(pytest.fail.Exception) as failed:
        require()
    message = str(failed.value)
    assert named in message
    assert "never skips" in message and "`./dev setup`" in message


def test_installed_parts_neither_skip_nor_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(slurm_plugin, "missing_binaries", lambda: [])
    monkeypatch.setattr(standin_plugin, "rabbitmq_installed", lambda: None)
    slurm_plugin.require_slurm()
    standin_plugin.require_rabbitmq()
