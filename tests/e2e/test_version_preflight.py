"""Issue 18 (1): the version pre-flight against a real endpoint whose workers run in a
second virtual environment with another dill (from PyPI) than this client's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dill
import pytest

from chiltepin.federation import Federation
from chiltepin.federation.journal import read_journal
from chiltepin.federation.placement import NoSiteAvailable
from chiltepin.report.model import build_report
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.site_endpoint import SiteEndpoint, running_site_endpoint
from tests.e2e.worker_env import OTHER_DILL, other_dill_env
from tests.federation import tasks

pytestmark = [pytest.mark.rabbitmq]


def worker_dill(x: int) -> tuple[int, str]:
    import dill as worker_side

    return x, worker_side.__version__


@pytest.fixture(scope="module")
def lagging_endpoint(
    globus_standin: GlobusStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SiteEndpoint]:
    env = other_dill_env(tmp_path_factory.mktemp("worker-env"))
    init = f"worker_init=['source {env}/bin/activate']"
    root = Path(os.environ["GLOBUS_COMPUTE_USER_DIR"])
    with running_site_endpoint(
        "lagging", "localhost", globus_standin, root=root, overrides=(init,)
    ) as endpoint:
        yield endpoint


def sites(endpoint: SiteEndpoint, *, with_local: bool) -> dict[str, dict]:
    chosen: dict[str, dict] = {
        "lagging": {"endpoint_id": endpoint.endpoint_id, "site": "localhost", "capacity": 2}
    }
    if with_local:
        chosen["here"] = {"kind": "local", "site": "localhost", "capacity": 2}
    return chosen


def test_a_site_with_another_dill_is_taken_out_with_both_versions_and_the_fix(
    lagging_endpoint: SiteEndpoint, tmp_path: Path
) -> None:
    assert dill.__version__ != OTHER_DILL
    with Federation(
        sites(lagging_endpoint, with_local=True), run_dir=tmp_path, progress=False
    ) as fed:
        assert list(fed.map(tasks.square, range(8), timeout=120)) == [x * x for x in range(8)]
        pinned = fed.submit(tasks.square, 3, site="lagging")
        with pytest.raises(NoSiteAvailable) as refused:
            pinned.result(timeout=60)
        lagging = fed.placement.backends["lagging"]
    message = str(refused.value)
    assert f"dill {OTHER_DILL} on its workers, {dill.__version__} here" in message
    assert "worker_init" in message and "functions_as_source" in message
    assert lagging.versions["workers"]["dill"] == OTHER_DILL
    seen = read_journal(tmp_path).versions["lagging"]
    assert seen["workers"]["dill"] == OTHER_DILL and seen["client"]["dill"] == dill.__version__
    report = build_report(tmp_path)
    assert report.versions["lagging"]["mismatch"] == lagging.version_mismatch
    succeeded = {s.site: s.succeeded for s in report.sites}
    assert succeeded.get("lagging", 0) == 0 and succeeded["here"] == 8


def test_functions_as_source_still_run_on_the_mismatched_workers(
    lagging_endpoint: SiteEndpoint, tmp_path: Path
) -> None:
    with Federation(
        sites(lagging_endpoint, with_local=False),
        run_dir=tmp_path,
        progress=False,
        functions_as_source=True,
    ) as fed:
        results = list(fed.map(worker_dill, range(4), timeout=120))
        lagging = fed.placement.backends["lagging"]
    assert results == [(x, OTHER_DILL) for x in range(4)]
    assert lagging.healthy and lagging.versions["mismatch"] is not None
