"""A sites file resolved once: what a Workflow resolved, its Federation does not load again."""

from __future__ import annotations

from pathlib import Path

import pytest

from chiltepin.client import config
from chiltepin.client.config import FederationConfig, ResolvedConfig, coerce_sites, resolve

SITES = {
    "laptop": {"kind": "local", "site": "localhost"},
    "wide": {"kind": "local", "site": "localhost", "capacity": 3, "tags": ["big"]},
}


def count_resolutions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    resolved: list[str] = []
    real = config.ResolvedSite.__init__

    def counting(self: config.ResolvedSite, name: str, *args: object) -> None:
        resolved.append(name)
        real(self, name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(config.ResolvedSite, "__init__", counting)
    return resolved


def test_a_resolved_config_is_not_resolved_again(monkeypatch: pytest.MonkeyPatch) -> None:
    resolutions = count_resolutions(monkeypatch)
    done = ResolvedConfig.of(SITES)
    assert resolutions == ["laptop", "wide"]
    # what Federation.__init__ does with its sites argument
    again, source, base_dir = coerce_sites(done)
    sites = resolve(again, source, base_dir)
    assert resolutions == ["laptop", "wide"]
    assert sites == done.resolved and sites["wide"] is done.resolved["wide"]
    assert sites["wide"].capacity == 3 and "big" in sites["wide"].tags
    assert ResolvedConfig.of(done) is done


def test_it_is_the_same_sites_file_to_every_reader() -> None:
    done = ResolvedConfig.of(SITES)
    plain = FederationConfig.model_validate({"sites": SITES})
    assert done.model_dump(mode="json") == plain.model_dump(mode="json")  # the journal's copy
    assert isinstance(done, FederationConfig) and list(done.resolved) == list(plain.sites)


def test_relative_site_paths_are_resolved_from_the_sites_file(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("name: mine\nscheduler: local\ncores_per_node: 2\n")
    sites_file = tmp_path / "sites.yaml"
    sites_file.write_text("sites:\n  here:\n    kind: local\n    site: mine.yaml\n")
    done = ResolvedConfig.of(sites_file)
    assert done.resolved["here"].site.name == "mine"
    again, source, base_dir = coerce_sites(done)
    assert resolve(again, source, base_dir)["here"] is done.resolved["here"]
