"""Tasks refused before they reach a site end at once, journalled as failed: no hang."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chiltepin.cli.main import cli
from chiltepin.client.calls import NotSerializable
from chiltepin.federation import Federation, SitePath
from chiltepin.federation.journal import events, read_journal
from chiltepin.federation.journal_format import AttemptEvent
from chiltepin.federation.placement import NoSiteAvailable
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


def _status(run_dir: Path) -> dict:
    result = CliRunner().invoke(cli, ["run", "status", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert counts.pop("run_dir") == str(run_dir)
    return counts


def _attempt_lines(run_dir: Path, task_id: str) -> int:
    return sum(1 for e in events(run_dir) if isinstance(e, AttemptEvent) and e.id == task_id)


@pytest.mark.parametrize("policy", ["soonest", "round_robin"])
def test_a_task_no_site_can_take_ends_journalled_and_resume_never_runs_it(
    policy: str, tmp_path: Path
) -> None:
    """Refused at dispatch (its pinned site is out): the failure the user sees is the
    journal's outcome, so ``run status`` counts it failed and a resume does not place it."""
    run_dir = tmp_path / "run"
    sites = {name: dict(SITE["here"]) for name in ("here", "there")}
    with Federation(sites, run_dir=run_dir, progress=False, policy=policy) as fed:
        fed.placement.backends["there"].mark_unhealthy("stopped for the test")
        refused = fed.submit(tasks.square, 2, site="there")
        with pytest.raises(NoSiteAvailable, match="site 'there' is unavailable: stopped for"):
            refused.result(timeout=30)
        assert fed.submit(tasks.square, 3, site="here").result(timeout=60) == 9
        assert fed.stats.finished == 2
    outcome = read_journal(run_dir).tasks[refused.task_id].outcome
    assert outcome is not None and (outcome.ok, outcome.number) == (False, 0)
    assert outcome.kind == "NoSiteAvailable"
    assert _status(run_dir) == {"tasks": 2, "succeeded": 1, "failed": 1}
    with Federation.reattach(run_dir, progress=False) as again:
        [first, second] = again.futures
        assert "stopped for the test" in str(first.exception(timeout=30))
        assert second.result(timeout=30) == 9
    assert _attempt_lines(run_dir, refused.task_id) == 0  # never placed, before or after


@pytest.mark.parametrize("fault", ["routing", "submit"])
def test_a_release_that_raises_ends_the_task_journalled_and_gives_its_place_back(
    fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Late binding chose a site and could not start the task there. No real backend
    raises here (each turns its own errors into a failed attempt), so the fault is
    injected: the site's routing, or its submit, raises once."""
    run_dir = tmp_path / "run"
    with Federation(SITE, run_dir=run_dir, progress=False) as fed:
        backend = fed.placement.backends["here"]
        real = getattr(backend, fault)
        calls = []

        def broken(*args: object) -> object:
            calls.append(args)
            if len(calls) == 1:
                raise RuntimeError(f"{fault} broke")
            return real(*args)

        monkeypatch.setattr(backend, fault, broken)
        refused = fed.submit(tasks.square, 2)
        with pytest.raises(RuntimeError, match=f"{fault} broke"):
            refused.result(timeout=30)
        # its window place was given back: as many tasks as the window holds still run
        window = fed.conductor.binder.window("here")
        more = [fed.submit(tasks.square, i) for i in range(window + 1)]
        assert [f.result(timeout=60) for f in more] == [i * i for i in range(window + 1)]
    outcome = read_journal(run_dir).tasks[refused.task_id].outcome
    assert outcome is not None and not outcome.ok and outcome.kind == "RuntimeError"
    counts = _status(run_dir)
    assert (counts["failed"], counts["succeeded"]) == (1, window + 1) and "held" not in counts
    with Federation.reattach(run_dir, progress=False) as again:
        assert f"{fault} broke" in str(again.futures[0].exception(timeout=30))
    assert _attempt_lines(run_dir, refused.task_id) == (1 if fault == "submit" else 0)
