"""pytest fixtures that start real single-host Slurm clusters.

Enable with ``pytest_plugins = ["chiltepin.cluster.pytest_plugin"]`` in the root ``conftest.py``.

* ``slurm_cluster`` (session): one 3-node cluster, partition ``debug``, shared by all tests.
  Tests must leave it as they found it (cancel their jobs, resume nodes they took down).
* ``slurm_cluster_factory`` (session): ``factory(name, nodes=..., **ClusterSpec fields)``
  starts another independent cluster (a second "site") on its own free ports. Asking twice
  for the same name returns the same cluster. Every cluster is stopped at session end.

When Slurm (or, for the container fixtures, podman) is not installed the fixtures fail the
test with the reason and the command that installs it (``./dev setup``), with or without
``CI`` set: a suite that skips what it cannot run passes without proving anything.
Tests using these fixtures are marked ``slurm`` (``-m "not slurm"`` deselects them).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chiltepin.cluster.cluster import SlurmCluster, SlurmClusterError
from chiltepin.cluster.compose import ComposeCluster, UpResult, unique_project
from chiltepin.cluster.config import ClusterSpec
from chiltepin.cluster.engine import ContainerEngine, NoContainerEngine, container_engine
from chiltepin.cluster.images import ImageBuild, ensure_image
from chiltepin.cluster.slurm import INSTALL_HINT, missing_binaries
from chiltepin.system.missing import missing_part

SESSION_CLUSTER_NAME = "chiltepin-test"
FIXTURES = frozenset({"slurm_cluster", "slurm_cluster_factory"})
CONTAINER_FIXTURES = frozenset({"chiltepin_image", "compose_cluster"})
#: Leaves room under the 107-byte unix socket limit for the spool paths below the cluster dir.
_MAX_BASE_LEN = 48


def slurm_missing_reason() -> str | None:
    """Why the single-host cluster cannot run here, or ``None`` when it can."""
    missing = missing_binaries()
    if missing:
        return f"Slurm not available ({', '.join(missing)} not found): {INSTALL_HINT}"
    return None


def require_slurm() -> None:
    """Fail the current test when Slurm is missing."""
    reason = slurm_missing_reason()
    if reason is not None:
        missing_part(reason)


class ClusterFactory:
    """Starts named clusters under one base directory and stops them all at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.clusters: dict[str, SlurmCluster] = {}

    def __call__(self, name: str = "site2", *, nodes: int = 3, **fields: Any) -> SlurmCluster:
        """Start (or return the already started) cluster ``name``.

        ``fields`` are :class:`ClusterSpec` fields (``partition``, ``max_time``,
        ``slurmd_timeout``, ``message_timeout``, ``cpus``, ports, ...). A second call with the
        same name and a different spec is an error rather than a silent surprise.
        """
        spec = ClusterSpec(name=name, nodes=nodes, state_dir=self.base / name, **fields)
        existing = self.clusters.get(name)
        if existing is not None:
            if not spec.compatible_with(existing.spec):
                raise SlurmClusterError(
                    f"cluster {name!r} was already started with a different spec in this session"
                )
            return existing.up() if not existing.is_up() else existing
        cluster = SlurmCluster(spec, die_with_parent=True).up()
        self.clusters[name] = cluster
        return cluster

    def stop_all(self) -> None:
        """Stop every cluster this factory started; report all failures together."""
        errors = []
        for cluster in self.clusters.values():
            try:
                cluster.down()
            except SlurmClusterError as err:
                errors.append(str(err))
        if errors:
            raise SlurmClusterError("; ".join(errors))


def require_container_engine() -> ContainerEngine:
    """Docker Engine or podman; the current test fails without one."""
    try:
        return container_engine()
    except NoContainerEngine as err:
        missing_part(str(err))


@pytest.fixture(scope="session")
def chiltepin_image() -> ImageBuild:
    """The chiltepin image of this tree, built once per content hash (cached across runs)."""
    build = ensure_image(require_container_engine())
    verb = "built" if build.built else "reused"
    print(f"\nchiltepin image {build.ref} {verb} in {build.seconds:.1f} s")
    return build


@pytest.fixture(scope="module")
def compose_cluster(chiltepin_image: ImageBuild) -> Iterator[tuple[ComposeCluster, UpResult]]:
    """The compose Slurm cluster, up (c1..c3 idle) for one test module, then removed; a
    compose project of its own, so another session's cluster on this machine is not it."""
    cluster = ComposeCluster(require_container_engine(), project=unique_project())
    try:
        result = cluster.up()
        print(f"\ncompose cluster up in {result.seconds:.1f} s (image {result.image.ref})")
        yield cluster, result
    finally:
        cluster.down()


def _base_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bool]:
    """A short directory for cluster dirs; ``True`` when it is ours to delete afterwards."""
    base = tmp_path_factory.mktemp("slurm", numbered=True)
    if len(str(base)) <= _MAX_BASE_LEN:
        return base, False
    return Path(tempfile.mkdtemp(prefix="chiltepin-slurm-")), True


@pytest.fixture(scope="session")
def slurm_cluster_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ClusterFactory]:
    """Factory for independent single-host clusters, all stopped at session end."""
    require_slurm()
    base, owned = _base_dir(tmp_path_factory)
    factory = ClusterFactory(base)
    try:
        yield factory
    finally:
        factory.stop_all()
        if owned:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def slurm_cluster(slurm_cluster_factory: ClusterFactory) -> SlurmCluster:
    """The session's shared 3-node cluster (partition ``debug``, nodes ``n1..n3``)."""
    return slurm_cluster_factory(SESSION_CLUSTER_NAME, nodes=3, partition="debug")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slurm: needs the single-host Slurm cluster (Debian slurmctld/slurmd)"
    )
    config.addinivalue_line(
        "markers", "containers: needs Docker Engine or podman (./dev setup installs podman)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a cluster fixture as ``slurm``."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if FIXTURES.intersection(names):
            item.add_marker(pytest.mark.slurm)
        if CONTAINER_FIXTURES.intersection(names):
            item.add_marker(pytest.mark.containers)
