"""Staging through Globus Transfer: the real ``globus_sdk.TransferClient`` against the
stand-in's Transfer API, with real files behind each collection."""

from __future__ import annotations

import hashlib
import os
import time
import uuid

import pytest
from click.testing import CliRunner

from chiltepin import auth
from chiltepin.cli.main import cli
from chiltepin.staging import (
    CollectionLookupError,
    ConsentRequiredError,
    LocationError,
    Stager,
    StagingError,
)
from chiltepin.testing import GlobusStandIn

from .conftest import Sites


def _digest(path: os.PathLike[str]) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _seed_tree(sites: Sites) -> dict[str, str]:
    """A small directory tree on the source; returns {relative path: sha256}."""
    root = sites.src_path("/model/ic")
    out = {}
    for i, rel in enumerate(["atm/t.nc", "atm/q.nc", "ocn/sst.nc", "ocn/deep/salt.nc", "README"]):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(os.urandom(1000 + 97 * i))
        out[rel] = _digest(p)
    return out


def test_thousand_files_and_a_tree_in_one_transfer_task(
    standin: GlobusStandIn, sites: Sites, stager: Stager
) -> None:
    inputs = sites.src_path("/inputs")
    inputs.mkdir()
    for i in range(1000):
        (inputs / f"member{i:04d}.txt").write_text(f"member {i}\n" * (i % 7 + 1))
    tree = _seed_tree(sites)
    pairs = [
        (sites.src_url(f"/inputs/member{i:04d}.txt"), sites.dst_url(f"/run/in/member{i:04d}.txt"))
        for i in range(1000)
    ]
    pairs.append((sites.src_url("/model/ic/"), sites.dst_url("/run/ic/")))
    before = set(standin.transfer.tasks)

    report = stager.stage(pairs, deadline=60)

    new_tasks = set(standin.transfer.tasks) - before
    assert len(new_tasks) == 1, "1,000 files and a tree must go in ONE Transfer task"
    task = standin.transfer_task(new_tasks.pop())
    assert task["status"] == "SUCCEEDED"
    assert task["sync_level"] == 3 and task["verify_checksum"] is True
    assert task["files_transferred"] == 1000 + len(tree)
    assert report.ok and len(report.items) == 1001
    assert [t.task_id for t in report.tasks] == [task["task_id"]]
    assert all(item.files == 1 for item in report.items[:1000])
    assert report.items[1000].files == len(tree)
    for i in range(1000):
        got = sites.dst_path(f"/run/in/member{i:04d}.txt").read_text()
        assert got == f"member {i}\n" * (i % 7 + 1)
    for rel, digest in tree.items():
        assert _digest(sites.dst_path(f"/run/ic/{rel}")) == digest

    # staged again: checksum sync, nothing copied, still one task and every item ok
    again = stager.stage(pairs, deadline=60)
    assert again.ok and again.files == 0
    assert again.tasks[0].files_skipped == 1000 + len(tree)


def test_missing_source_is_named_and_nothing_is_skipped_silently(
    sites: Sites, stager: Stager
) -> None:
    for name in ("a", "c"):
        sites.src_path(f"/{name}.dat").write_text(name)
    pairs = [
        (sites.src_url("/a.dat"), sites.dst_url("/a.dat")),
        (sites.src_url("/b-missing.dat"), sites.dst_url("/b-missing.dat")),
        (sites.src_url("/c.dat"), sites.dst_url("/c.dat")),
    ]
    with pytest.raises(StagingError) as info:
        stager.stage(pairs, deadline=30)
    err = info.value
    assert [f.source for f in err.failed] == [sites.src_url("/b-missing.dat")]
    assert err.failed[0].code == "FILE_NOT_FOUND"
    assert "/b-missing.dat" in str(err) and "FILE_NOT_FOUND" in str(err)
    assert err.report is not None and len(err.report.items) == 3
    assert [i.ok for i in err.report.items] == [True, False, True]
    assert sites.dst_path("/a.dat").read_text() == "a"
    assert not sites.dst_path("/b-missing.dat").exists()


def test_denied_directory_inside_a_tree_fails_the_tree_item(
    standin: GlobusStandIn, sites: Sites, stager: Stager
) -> None:
    _seed_tree(sites)
    standin.deny_path(sites.src, "/model/ic/ocn/deep")
    with pytest.raises(StagingError) as info:
        stager.stage([(sites.src_url("/model/ic/"), sites.dst_url("/ic/"))], deadline=30)
    (item,) = info.value.failed
    assert item.code == "PERMISSION_DENIED"
    assert "/model/ic/ocn/deep" in (item.reason or "")


def test_timeout_cancels_the_transfer_task_at_the_service(
    standin: GlobusStandIn, sites: Sites, stager: Stager
) -> None:
    for i in range(20):
        sites.src_path(f"/slow{i:02d}").write_text(str(i))
    standin.slow_transfers(sites.dst, item_delay_s=1.0)  # 20 s for the whole task
    pairs = [(sites.src_url(f"/slow{i:02d}"), sites.dst_url(f"/slow{i:02d}")) for i in range(20)]
    started = time.monotonic()
    with pytest.raises(StagingError) as info:
        stager.stage(pairs, deadline=1.0)
    # back at the deadline (plus the copy under way), not once the whole task is done
    assert time.monotonic() - started < 20 * 1.0
    (task_result,) = info.value.report.tasks
    assert task_result.cancelled
    task = standin.transfer_task(task_result.task_id)
    assert task["status"] == "FAILED"
    assert task["fatal_error"]["code"] == "CANCELED"
    timed_out = [f for f in info.value.failed if f.code == "TIMEOUT"]
    assert timed_out and all("cancelled" in (f.reason or "") for f in timed_out)
    # The task ended at the service (FAILED above is set only after its worker's last
    # copy), so the destination holds exactly what the service counts as transferred.
    copied = len(list(sites.dst_path().iterdir()))
    assert copied == task["files_transferred"] < 20
    ok = [i for i in info.value.report.items if i.ok]
    assert len(ok) == copied
    assert len(ok) + len(timed_out) == 20


def test_consent_required_names_the_command_that_fixes_it(
    standin: GlobusStandIn, sites: Sites
) -> None:
    sites.src_path("/x").write_text("x")
    standin.require_consent(sites.dst)
    # an injected client: chiltepin cannot (and must not) change its consents
    stager = Stager(auth.transfer_client(), poll_interval_s=0.05)
    with pytest.raises(ConsentRequiredError) as info:
        stager.stage([(sites.src_url("/x"), sites.dst_url("/x"))], deadline=30)
    err = info.value
    assert err.collections == [sites.dst]
    assert f"chiltepin login --collection {sites.dst}" in str(err)
    assert err.failed[0].code == "CONSENT_REQUIRED"
    assert isinstance(err, StagingError)

    # ... and running that very command fixes it
    result = CliRunner().invoke(cli, err.command.split()[1:])
    assert result.exit_code == 0, result.output
    fixed = Stager(auth.transfer_client(err.collections), poll_interval_s=0.05)
    assert fixed.stage([(sites.src_url("/x"), sites.dst_url("/x"))], deadline=30).ok


def test_consent_message_names_the_login_command() -> None:
    cid = str(uuid.uuid4())
    err = ConsentRequiredError([cid], [])
    assert err.command == f"chiltepin login --collection {cid}"
    assert f"`chiltepin login --collection {cid}`" in str(err)


def test_client_credentials_get_consent_without_a_prompt(
    standin: GlobusStandIn, sites: Sites, stager: Stager
) -> None:
    sites.src_path("/y").write_text("y")
    standin.require_consent(sites.dst)
    before = standin.transfer.calls["transfer_submit"]
    assert stager.stage([(sites.src_url("/y"), sites.dst_url("/y"))], deadline=30).ok
    assert standin.transfer.calls["transfer_submit"] - before == 2  # refused, then accepted


def test_ambiguous_and_unknown_collection_names_list_candidates(
    standin: GlobusStandIn, sites: Sites, stager: Stager
) -> None:
    name = f"shared-scratch-{uuid.uuid4().hex[:6]}"
    first = standin.add_collection(name)
    second = standin.add_collection(name)
    sites.src_path("/f").write_text("f")
    with pytest.raises(CollectionLookupError) as info:
        stager.stage([(sites.src_url("/f"), f"globus://{name}/f")], deadline=30)
    assert info.value.ambiguous
    assert first in str(info.value) and second in str(info.value)
    assert "ambiguous" in str(info.value)

    with pytest.raises(CollectionLookupError) as info:
        stager.stage([(sites.src_url("/f"), f"globus://{name[:-2]}/f")], deadline=30)
    assert not info.value.ambiguous
    assert {c[0] for c in info.value.candidates} == {first, second}

    with pytest.raises(CollectionLookupError, match="found nothing"):
        stager.stage([(sites.src_url("/f"), "globus://no-such-collection-at-all/f")])
    with pytest.raises(CollectionLookupError):
        stager.stage([(sites.src_url("/f"), f"globus://{uuid.uuid4()}/f")])
    assert not sites.dst_path("/f").exists()  # nothing was submitted


def test_corrupted_destination_is_caught_by_checksum_verification(
    standin: GlobusStandIn, sites: Sites, stager: Stager
) -> None:
    for name in ("good", "bad"):
        sites.src_path(f"/{name}.bin").write_bytes(os.urandom(4096))
    standin.corrupt_destination(sites.dst, "/out/bad.bin")  # every copy of it
    pairs = [
        (sites.src_url("/good.bin"), sites.dst_url("/out/good.bin")),
        (sites.src_url("/bad.bin"), sites.dst_url("/out/bad.bin")),
    ]
    with pytest.raises(StagingError) as info:
        stager.stage(pairs, deadline=30)
    (bad,) = info.value.failed
    assert bad.source == sites.src_url("/bad.bin")
    assert bad.code == "VERIFY_CHECKSUM"
    (task,) = info.value.report.tasks
    assert standin.transfer_task(task.task_id)["faults"] >= 2  # the service retried

    # a transient corruption is retried by the service and the copy arrives intact
    standin.clear_faults()
    standin.corrupt_destination(sites.dst, "/out/bad.bin", times=1)
    assert stager.stage(pairs, deadline=30).ok
    assert _digest(sites.dst_path("/out/bad.bin")) == _digest(sites.src_path("/bad.bin"))


def test_without_verification_corruption_goes_unnoticed(
    standin: GlobusStandIn, sites: Sites
) -> None:
    """Why verify_checksum is the default: this is what peers ship."""
    sites.src_path("/v.bin").write_bytes(b"payload")
    standin.corrupt_destination(sites.dst, "/v.bin")
    careless = Stager(verify_checksum=False, sync_level=None, poll_interval_s=0.05)
    assert careless.stage([(sites.src_url("/v.bin"), sites.dst_url("/v.bin"))]).ok
    assert sites.dst_path("/v.bin").read_bytes() != b"payload"


def test_permission_denied_is_reported_per_item(
    standin: GlobusStandIn, sites: Sites, stager: Stager
) -> None:
    for name in ("open", "secret"):
        sites.src_path(f"/{name}.txt").write_text(name)
    standin.deny_path(sites.src, "/secret.txt")
    pairs = [
        (sites.src_url("/open.txt"), sites.dst_url("/open.txt")),
        (sites.src_url("/secret.txt"), sites.dst_url("/secret.txt")),
    ]
    with pytest.raises(StagingError) as info:
        stager.stage(pairs, deadline=30)
    assert [(f.source, f.code) for f in info.value.failed] == [
        (sites.src_url("/secret.txt"), "PERMISSION_DENIED")
    ]
    assert sites.dst_path("/open.txt").read_text() == "open"

    # a destination the user may not write: the item that hit it is named
    standin.clear_faults()
    standin.deny_path(sites.dst, "/locked")
    with pytest.raises(StagingError) as info:
        stager.stage([(sites.src_url("/open.txt"), sites.dst_url("/locked/open.txt"))])
    (item,) = info.value.failed
    assert item.code == "PERMISSION_DENIED"
    assert "/locked/open.txt" in (item.reason or "")


def test_items_are_grouped_per_collection_pair_and_split_at_the_limit(
    standin: GlobusStandIn, sites: Sites
) -> None:
    third = standin.add_collection(f"gaea-{uuid.uuid4().hex[:6]}")
    for i in range(5):
        sites.src_path(f"/g{i}").write_text(str(i))
    stager = Stager(max_items_per_task=2, poll_interval_s=0.05)
    pairs = [(sites.src_url(f"/g{i}"), sites.dst_url(f"/g{i}")) for i in range(5)]
    pairs += [(sites.src_url(f"/g{i}"), f"globus://{third}/g{i}") for i in range(2)]
    report = stager.stage(pairs, deadline=30)
    assert report.ok
    assert sorted(t.items for t in report.tasks) == [1, 2, 2, 2]
    assert {(t.source_collection, t.destination_collection) for t in report.tasks} == {
        (sites.src, sites.dst),
        (sites.src, third),
    }


def test_templates_duplicates_and_conflicts(sites: Sites, stager: Stager) -> None:
    sites.src_path("/shared.nc").write_text("shared")
    values = {"run_id": "r1", "task_id": "t9", "scratch": "/scratch/{run_id}"}
    pair = (sites.src_url("/shared.nc"), f"globus://{sites.dst}{{scratch}}/{{task_id}}/")
    report = stager.stage([pair, pair], values=values, deadline=30)
    assert report.ok and len(report.items) == 2
    assert report.tasks[0].items == 1  # staged once
    assert sites.dst_path("/scratch/r1/t9/shared.nc").read_text() == "shared"

    with pytest.raises(StagingError, match="same destination"):
        stager.stage(
            [(sites.src_url("/a"), sites.dst_url("/x")), (sites.src_url("/b"), sites.dst_url("/x"))]
        )
    with pytest.raises(LocationError, match="task_id"):
        stager.stage([(sites.src_url("/shared.nc"), sites.dst_url("/{task_id}/x"))])
    with pytest.raises(LocationError, match="local_collection"):
        stager.stage([(sites.src_url("/shared.nc"), "file:///tmp/x")])


def test_local_collection_carries_file_locations_through_transfer(
    standin: GlobusStandIn, sites: Sites, tmp_path
) -> None:
    """A machine with Globus Connect Personal: file:// <-> globus:// goes through Transfer."""
    here = standin.add_collection(f"gcp-{uuid.uuid4().hex[:6]}", root="/")
    (tmp_path / "home.txt").write_text("from the laptop")
    stager = Stager(local_collection=here, poll_interval_s=0.05)
    report = stager.stage([(f"file://{tmp_path}/home.txt", sites.dst_url("/in/home.txt"))])
    assert report.ok and report.items[0].backend == "transfer"
    assert sites.dst_path("/in/home.txt").read_text() == "from the laptop"


def test_delete_is_batched_per_collection(
    standin: GlobusStandIn, sites: Sites, stager: Stager
) -> None:
    _seed_tree(sites)
    for i in range(3):
        sites.src_path(f"/tmp{i}").write_text("x")
    before = set(standin.transfer.tasks)
    report = stager.delete(
        [sites.src_url(f"/tmp{i}") for i in range(3)] + [sites.src_url("/model/")], deadline=30
    )
    assert report.ok
    new = [standin.transfer_task(t) for t in set(standin.transfer.tasks) - before]
    assert sorted(t["type"] for t in new) == ["DELETE", "DELETE"]  # files / recursive trees
    assert not any(sites.src_path().iterdir())

    with pytest.raises(StagingError) as info:
        stager.delete([sites.src_url("/never-there")])
    assert info.value.failed[0].code == "FILE_NOT_FOUND"
    assert stager.delete([sites.src_url("/never-there")], missing_ok=True).ok


def test_a_refused_submission_is_retried_without_a_second_task(
    standin: GlobusStandIn, sites: Sites, stager: Stager
) -> None:
    sites.src_path("/r").write_text("r")
    standin.fail_next("transfer_submit", 1, status=503)
    before = set(standin.transfer.tasks)
    assert stager.stage([(sites.src_url("/r"), sites.dst_url("/r"))], deadline=30).ok
    assert len(set(standin.transfer.tasks) - before) == 1


def test_unexpected_service_error_fails_the_batch_items(
    standin: GlobusStandIn, sites: Sites, stager: Stager
) -> None:
    sites.src_path("/q").write_text("q")
    standin.fail_next("transfer_submit", 1, status=400, code="ClientError.BadRequest")
    with pytest.raises(StagingError) as info:
        stager.stage([(sites.src_url("/q"), sites.dst_url("/q"))], deadline=30)
    (item,) = info.value.failed
    assert item.code == "ClientError.BadRequest" and "HTTP 400" in (item.reason or "")


def test_one_stager_serves_many_threads(sites: Sites, stager: Stager, tmp_path) -> None:
    """The federation stages for many tasks at once through one Stager."""
    from concurrent.futures import ThreadPoolExecutor

    for i in range(8):
        sites.src_path(f"/t{i}").write_text(str(i))
        (tmp_path / f"l{i}").write_text(str(i))

    def one(i: int) -> bool:
        pairs = [
            (sites.src_url(f"/t{i}"), sites.dst_url(f"/task{i}/t")),
            (f"file://{tmp_path}/l{i}", f"file://{tmp_path}/task{i}/l"),
        ]
        return stager.stage(pairs, values={"task_id": str(i)}, deadline=30).ok

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(one, range(8)))
    for i in range(8):
        assert sites.dst_path(f"/task{i}/t").read_text() == str(i)
        assert (tmp_path / f"task{i}/l").read_text() == str(i)
