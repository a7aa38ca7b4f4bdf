"""One CI rule for both pytest plugins: a missing Slurm or RabbitMQ skips locally, fails in CI.

Every spelling CI services use for "yes" counts: ``CI=1`` once skipped every RabbitMQ test
while ``CI=true`` failed them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chiltepin.cluster import pytest_plugin as slurm_plugin
from chiltepin.system.ci import in_ci
from chiltepin.testing import pytest_plugin as standin_plugin


@pytest.fixture(params=["slurm", "rabbitmq"])
def missing_service(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Callable:
    """The plugin's ``require_*`` check, on a machine where that service is not installed."""
    if request.param == "slurm":
        monkeypatch.setattr(slurm_plugin, "missing_binaries", lambda: ["slurmctld", "sinfo"])
        return slurm_plugin.require_slurm
    monkeypatch.setattr(standin_plugin, "rabbitmq_installed", lambda: "rabbitmq-server")
    return standin_plugin.require_rabbitmq


@pytest.mark.parametrize("ci", ["true", "1", "TRUE", "yes", " on "])
def test_missing_service_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, missing_service: Callable[[], None], ci: str
) -> None:
    monkeypatch.setenv("CI", ci)
    assert in_ci()
    with pytest.raises(pytest.fail.Exception, match=r"(not found|missing).*in CI: .* not a skip"):
        missing_service()


@pytest.mark.parametrize("ci", [None, "", "false", "0", "no"])
def test_missing_service_skips_outside_ci(
    monkeypatch: pytest.MonkeyPatch, missing_service: Callable[[], None], ci: str | None
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert not in_ci()
    with pytest.raises(pytest.skip.Exception, match=r"slurmctld, sinfo not found|rabbitmq-server"):
        missing_service()


def test_installed_service_neither_skips_nor_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(slurm_plugin, "missing_binaries", lambda: [])
    monkeypatch.setattr(standin_plugin, "rabbitmq_installed", lambda: None)
    slurm_plugin.require_slurm()
    standin_plugin.require_rabbitmq()
