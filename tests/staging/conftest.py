"""Fixtures for the staging tests: a Transfer-only stand-in and fresh collections.

The stand-in here runs without RabbitMQ (``compute=False``) on a free port, so these tests
need no broker and start in a fraction of a second. Everything else is real: the
real ``globus_sdk.TransferClient`` (through ``chiltepin.auth``, client credentials), real
files, real copies and checksums.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chiltepin.staging import Stager
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.session import offline_session


@pytest.fixture(scope="package")
def transfer_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GlobusStandIn]:
    """The stand-in (Auth + Transfer) with its environment applied for this package."""
    base = tmp_path_factory.mktemp("transfer-standin")
    with offline_session(base, compute=False, banner=False) as standin:
        yield standin


@pytest.fixture
def standin(transfer_standin: GlobusStandIn) -> Iterator[GlobusStandIn]:
    yield transfer_standin
    transfer_standin.clear_faults()


@dataclass
class Sites:
    """Two fresh collections: ``src`` (by display name) and ``dst`` (by UUID)."""

    standin: GlobusStandIn
    src: str
    dst: str
    src_name: str
    dst_name: str

    def src_path(self, path: str = "/") -> Path:
        return self.standin.collection_path(self.src, path)

    def dst_path(self, path: str = "/") -> Path:
        return self.standin.collection_path(self.dst, path)

    def src_url(self, path: str) -> str:
        return f"globus://{self.src_name}{path}"

    def dst_url(self, path: str) -> str:
        return f"globus://{self.dst}{path}"


@pytest.fixture
def sites(standin: GlobusStandIn) -> Sites:
    tag = uuid.uuid4().hex[:8]
    src_name, dst_name = f"hera-{tag}", f"laptop-{tag}"
    return Sites(
        standin,
        standin.add_collection(src_name),
        standin.add_collection(dst_name, mapped=True),
        src_name,
        dst_name,
    )


@pytest.fixture
def stager(standin: GlobusStandIn) -> Stager:
    return Stager(poll_interval_s=0.05, max_poll_interval_s=0.25)
