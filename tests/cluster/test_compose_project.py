"""The compose cluster keeps to its compose project: two test sessions' clusters on one
machine never share containers, networks or volumes."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from chiltepin.cluster import compose
from chiltepin.cluster.compose import PROJECT, ComposeCluster, unique_project
from chiltepin.cluster.engine import ContainerEngine


class RecordingEngine(ContainerEngine):
    """An engine that runs nothing and remembers every command."""

    def __init__(self) -> None:
        super().__init__("podman", ("podman-compose",))
        object.__setattr__(self, "calls", [])

    def run(self, *args: str, check: bool = True, timeout: float | None = None) -> str:
        self.calls.append(args)  # type: ignore[attr-defined]
        return ""


def test_unique_projects_differ_and_are_valid_compose_names() -> None:
    names = {unique_project() for _ in range(20)}
    assert len(names) == 20
    for name in names:
        assert name.startswith(f"{PROJECT}-") and name == name.lower()
        assert all(c.isalnum() or c in "-_" for c in name)


def test_compose_commands_and_lookups_name_the_clusters_own_project(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commands: list[list[str]] = []

    def fake_run(cmd: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        commands.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(compose.subprocess, "run", fake_run)
    engine = RecordingEngine()
    cluster = ComposeCluster(engine, project="chiltepin-123-abc")
    cluster.down()
    assert commands[0][:3] == ["podman-compose", "-p", "chiltepin-123-abc"]
    filters = [a for call in engine.calls for a in call if "compose.project" in a]  # type: ignore[attr-defined]
    assert filters and all(f.endswith("=chiltepin-123-abc") for f in filters)
    assert ComposeCluster(engine).project == PROJECT  # `chiltepin cluster compose`'s own
