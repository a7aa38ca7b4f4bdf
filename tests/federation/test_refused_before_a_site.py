"""Tasks refused before they reach a site end at once, journalled as failed: no hang."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from chiltepin.cli.main import cli
from chiltepin.client.calls import NotSerializable
from chiltepin.federation import Federation, SitePath
from chiltepin.federation.journal import read_journal
from chiltepin.staging import LocationError
from tests.federation import tasks

SITE = {"here": {"kind": "local", "site": "localhost"}}


class Unpicklable:
    def __reduce__(self) -> tuple:
        raise RuntimeError("no pickling me")


@pytest.mark.parametrize("policy", ["soonest", "round_robin"])
def test_bad_locations_fail_the_task_at_once_and_resume_reports_them(
    policy: str, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    with Federation(SITE, run_dir=run_dir, progress=False, policy=policy) as fed:
        unknown = fed.submit(tasks.square, 2, stage_in=[("file:///etc/hosts", "{nope}/hosts")])
        escapes = fed.submit(
            tasks.square, 3, stage_out=[("{scratch}/../../etc/passwd", "file:///tmp/x")]
        )
        fine = fed.submit(tasks.square, 4)
        assert isinstance(unknown.exception(timeout=30), LocationError)
        assert "uses {nope}, which has no value here" in str(unknown.exception())
        assert isinstance(escapes.exception(timeout=30), LocationError)
        assert "leaves {scratch}" in str(escapes.exception())
        assert fine.result(timeout=60) == 16
    record = read_journal(run_dir)
    outcomes = {t.id: t.outcome for t in record.tasks.values()}
    assert [o.ok for o in outcomes.values()] == [False, False, True]
    assert {o.kind for o in outcomes.values() if not o.ok} == {"LocationError"}
    escaped = record.tasks[escapes.task_id]
    assert "leaves {scratch}" in record.result(escaped)  # the error, journalled
    status = CliRunner().invoke(cli, ["run", "status", str(run_dir), "--json"])
    assert '"failed": 2' in status.output and '"succeeded": 1' in status.output
    with Federation.reattach(run_dir, progress=False) as again:
        done = again.futures
        assert [f.exception(timeout=30) is None for f in done] == [False, False, True]
        assert "leaves {scratch}" in str(done[1].exception())


def test_site_paths_stay_in_scratch(tmp_path: Path) -> None:
    with pytest.raises(LocationError, match=r"SitePath must start with '\{scratch\}/'"):
        SitePath("/etc/passwd")
    with pytest.raises(LocationError, match="bad template"):
        SitePath("{scratch}/{oops")
    with Federation(SITE, run_dir=tmp_path / "run", progress=False) as fed:
        escaping = fed.submit(tasks.square, SitePath("{scratch}/../../etc/passwd"))
        assert isinstance(escaping.exception(timeout=30), LocationError)
        inside = fed.submit(str, SitePath("{scratch}/a/../b.nc"))
        assert inside.result(timeout=60) == "/tmp/chiltepin/run/b.nc"


def test_an_unpicklable_argument_is_refused_at_submit_naming_it(tmp_path: Path) -> None:
    with Federation(SITE, run_dir=tmp_path / "run", progress=False) as fed:
        with pytest.raises(NotSerializable, match=r"keyword argument 'x' \(Unpicklable\)"):
            fed.submit(tasks.square, x=Unpicklable())
        with pytest.raises(NotSerializable, match="RuntimeError: no pickling me"):
            fed.submit(tasks.square, Unpicklable())
        assert fed.futures == []
