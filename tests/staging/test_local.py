"""The local copier: real trees, real checksums, atomic renames (no service needed)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from chiltepin.staging import Stager, StagingError, local
from chiltepin.staging.local import TMP_MARK


def _tree(root: Path) -> dict[str, str]:
    files = {
        "a.nc": os.urandom(10),
        "empty": b"",
        "sub/b.nc": os.urandom(200_000),
        "sub/deeper/big.bin": os.urandom(3 << 20),  # above the in-memory size: kernel copy
        "sub/deeper/c.txt": b"c" * 5000,
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "emptydir").mkdir()
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if TMP_MARK in p.name]


@pytest.mark.parametrize("durability", ["batch", "file", "none"])
def test_tree_copy_is_complete_and_verified(tmp_path: Path, durability: str) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    expected = _tree(src)
    os.chmod(src / "a.nc", 0o640)
    report = Stager(durability=durability).stage([(f"file://{src}/", f"file://{dst}/")])
    assert report.ok
    (item,) = report.items
    assert item.backend == "local" and item.files == len(expected)
    assert item.bytes == sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    assert _digests(dst) == expected
    assert (dst / "emptydir").is_dir()
    assert (dst / "a.nc").stat().st_mode & 0o777 == 0o640
    assert not _leftovers(dst)

    # identical content is not copied again; a changed file is
    (src / "sub/b.nc").write_bytes(b"changed")
    again = Stager(durability=durability).stage([(f"file://{src}/", f"file://{dst}/")])
    assert again.ok and again.items[0].files == 1
    assert (dst / "sub/b.nc").read_bytes() == b"changed"


def test_failed_verification_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy that does not verify never replaces (or creates) the destination."""
    src = tmp_path / "src"
    _tree(src)
    dst = tmp_path / "dst"
    (dst / "sub").mkdir(parents=True)
    (dst / "sub/b.nc").write_bytes(b"old version")
    real = local.written_digest

    def lying(fd: int, size: int, algorithm: str) -> str:
        digest = real(fd, size, algorithm)
        return "0" * len(digest) if size == 200_000 else digest  # corrupt sub/b.nc only

    monkeypatch.setattr(local, "written_digest", lying)
    with pytest.raises(StagingError) as info:
        Stager().stage([(f"file://{src}/", f"file://{dst}/")])
    (item,) = info.value.failed
    assert item.code == "VERIFY_CHECKSUM" and "sub/b.nc" in (item.reason or "")
    assert (dst / "sub/b.nc").read_bytes() == b"old version"  # untouched, not half-written
    assert (dst / "a.nc").exists()  # the other files arrived, each one whole
    assert not _leftovers(dst)


def test_missing_sources_and_directories_without_slash_are_named(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "ok").write_text("ok")
    with pytest.raises(StagingError) as info:
        Stager().stage(
            [
                (f"file://{tmp_path}/ok", f"file://{tmp_path}/out/ok"),
                (f"file://{tmp_path}/gone", f"file://{tmp_path}/out/gone"),
                (f"file://{tmp_path}/dir", f"file://{tmp_path}/out/dir"),
            ]
        )
    failed = {Path(f.source.removeprefix("file://")).name: f.code for f in info.value.failed}
    assert failed == {"gone": "FILE_NOT_FOUND", "dir": "NOT_A_FILE"}
    assert "trailing" in str(info.value) or "/dir/" in str(info.value)
    assert (tmp_path / "out/ok").read_text() == "ok"


def test_deadline_already_passed_copies_nothing(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _tree(src)
    from datetime import datetime, timedelta, timezone

    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    report = Stager().stage(
        [(f"file://{src}/", f"file://{tmp_path}/dst/")], deadline=past, raise_on_failure=False
    )
    assert not report.ok and report.items[0].code == "TIMEOUT"
    assert not _digests(tmp_path / "dst") and not _leftovers(tmp_path / "dst")


def test_local_delete(tmp_path: Path) -> None:
    _tree(tmp_path / "t")
    stager = Stager()
    report = stager.delete([f"file://{tmp_path}/t/a.nc", f"file://{tmp_path}/t/sub/"])
    assert report.ok and report.files == 4
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["empty", "emptydir"]
    with pytest.raises(StagingError, match="is a directory"):
        stager.delete([f"file://{tmp_path}/t/emptydir"])
    with pytest.raises(StagingError, match="FILE_NOT_FOUND"):
        stager.delete([f"file://{tmp_path}/t/nope"])
    assert stager.delete([f"file://{tmp_path}/t/nope"], missing_ok=True).ok


def test_local_staging_needs_no_globus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pure file:// stage never builds a Transfer client (no login, no network)."""
    monkeypatch.setattr(Stager, "_new_client", lambda self: pytest.fail("Globus contacted"))
    (tmp_path / "f").write_text("f")
    assert Stager().stage([(f"{tmp_path}/f", f"{tmp_path}/g")]).ok


@pytest.mark.parametrize("algorithm", ["crc32", "sha256"])
def test_checksums_over_several_mmap_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, algorithm: str
) -> None:
    import mmap
    import zlib

    from chiltepin.staging import checksums

    data = os.urandom(5 * mmap.ALLOCATIONGRANULARITY + 123)
    (tmp_path / "f").write_bytes(data)
    monkeypatch.setattr(checksums, "WINDOW", 2 * mmap.ALLOCATIONGRANULARITY)
    expected = (
        f"{zlib.crc32(data):08x}" if algorithm == "crc32" else hashlib.sha256(data).hexdigest()
    )
    assert checksums.of_file(tmp_path / "f", algorithm) == expected
    assert checksums.of_bytes(data, algorithm) == expected
