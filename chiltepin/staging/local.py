"""Local backend: ``file://`` to ``file://`` copies that are verified and atomic.

Why not ``shutil.copytree``: a copy that dies half-way leaves a half-written file under
the real name, and nothing checks that the bytes arrived intact. Here every file is written
to a hidden temporary name in its destination directory, flushed, verified against the
source's checksum, and only then renamed into place, so a reader sees the old file or the
complete new one, never a partial one. A destination that already holds identical content
is left alone (checksum sync, like Transfer's ``sync_level="checksum"``).

Why it is fast: large files are copied inside the kernel (``copy_file_range``, as
``cp`` does) and checksummed through ``mmap`` (:mod:`chiltepin.staging.checksums`); small
files are read once and written once. Files are spread over a few threads (the kernel copy
and the checksums release the GIL).

Why batched flushing: ``fsync`` per file costs a disk round trip each (milliseconds), most
of the time for a thousand small files. ``durability="batch"`` starts write-back of each
file as soon as it is written (``sync_file_range``), then flushes each destination file
system once (``syncfs``) before renaming, and once after so the renames are durable too.
``"file"`` fsyncs each file and directory; ``"none"`` leaves flushing to the OS.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import secrets
import shutil
import stat
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from chiltepin.staging import checksums
from chiltepin.staging.locations import Location
from chiltepin.staging.options import StagingOptions
from chiltepin.staging.results import TIMEOUT, VERIFY_CHECKSUM, ItemResult

SMALL = 64 << 10  # files up to this size are read into memory once; larger: kernel copy
TMP_MARK = ".chiltepin-part-"
SYNC_FILE_RANGE_WRITE = 2


def tmp_name(dst: str, token: str) -> str:
    """The hidden temporary name a file is written under before it is renamed to ``dst``."""
    head, tail = os.path.split(dst)
    return os.path.join(head, f".{tail}{TMP_MARK}{token}")


def written_digest(fd: int, size: int, algorithm: str) -> str:
    """Checksum of a temp file as the verifier reads it back through ``fd`` (module-level
    so a test can make it lie and watch the copy be refused)."""
    if size <= SMALL:
        return checksums.of_bytes(os.pread(fd, size + 1, 0), algorithm)
    return checksums.of_fd(fd, size, algorithm)


class _Libc:
    """``syncfs`` and ``sync_file_range`` (Linux; absent elsewhere, then no-ops/``sync``)."""

    def __init__(self) -> None:
        lib = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.syncfs = getattr(lib, "syncfs", None)
        self.sync_file_range = getattr(lib, "sync_file_range", None)
        if self.sync_file_range is not None:
            self.sync_file_range.argtypes = [
                ctypes.c_int,
                ctypes.c_longlong,
                ctypes.c_longlong,
                ctypes.c_uint,
            ]


_LIBC: _Libc | None = None


def _libc() -> _Libc:
    global _LIBC
    if _LIBC is None:
        _LIBC = _Libc()
    return _LIBC


def sync_filesystem(path: Path) -> None:
    """Flush the file system holding ``path`` (``syncfs``; ``sync`` where unavailable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        syncfs = _libc().syncfs
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def start_writeback(fd: int) -> None:
    """Ask the kernel to start writing a file's dirty pages now (does not wait)."""
    sfr = _libc().sync_file_range
    if sfr is not None:
        sfr(fd, 0, 0, SYNC_FILE_RANGE_WRITE)


def _code(exc: OSError) -> str:
    return {
        errno.ENOENT: "FILE_NOT_FOUND",
        errno.EACCES: "PERMISSION_DENIED",
        errno.EPERM: "PERMISSION_DENIED",
        errno.ENOSPC: "NO_SPACE",
        errno.EDQUOT: "QUOTA_EXCEEDED",
        errno.EISDIR: "NOT_A_FILE",
        errno.ENOTDIR: "NOT_A_DIRECTORY",
    }.get(exc.errno or 0, "OS_ERROR")


@dataclass
class _File:
    """One file of one item on its way: source, destination, temp name, and outcome."""

    src: str
    dst: str
    fresh: bool = False  # its directory was created by this copy: nothing to compare with
    tmp: str | None = None
    digest: str | None = None
    size: int = 0
    unchanged: bool = False
    error: tuple[str, str] | None = None  # (code, reason)
    done: bool = False


@dataclass
class _Item:
    index: int
    source: Location
    destination: Location
    files: list[_File]
    error: tuple[str, str] | None = None


class LocalCopier:
    """Copies and deletes on this machine's file systems."""

    def __init__(self, options: StagingOptions | None = None) -> None:
        self.options = options or StagingOptions()
        self._token = secrets.token_hex(6)
        self._counter = 0
        self._lock = threading.Lock()

    # -- copy -------------------------------------------------------------------------
    def copy(
        self, pairs: Sequence[tuple[int, Location, Location]], deadline: float
    ) -> list[tuple[int, ItemResult]]:
        """Copy ``(index, source, destination)`` pairs before ``deadline`` (monotonic)."""
        items = [self._plan(index, src, dst) for index, src, dst in pairs]
        files = [f for item in items if item.error is None for f in item.files]
        batch = self.options.durability == "batch"
        workers = self.options.local_workers or _default_workers()
        with ThreadPoolExecutor(workers, "chiltepin-stage") as pool:
            self._each(pool, files, lambda f: self._write(f, deadline))
            staged = [f for f in files if f.tmp is not None]
            if batch:
                self._sync({os.path.dirname(f.dst) for f in staged})
            self._each(pool, staged, self._rename)
        if batch:
            self._sync({os.path.dirname(f.dst) for f in staged if f.done})
        return [(item.index, self._result(item)) for item in items]

    def _plan(self, index: int, src: Location, dst: Location) -> _Item:
        """List the files of one item and create its destination directories."""
        item = _Item(index, src, dst, [])
        root, target = src.path, dst.path
        try:
            if not stat.S_ISDIR(os.stat(root).st_mode):
                fresh = _makedirs(os.path.dirname(target))
                item.files.append(_File(root, target, fresh))
                return item
            if not src.recursive:
                tree = src.model_copy(update={"recursive": True})
                item.error = ("NOT_A_FILE", f"{root} is a directory; stage it as {tree}")
                return item
            fresh_dirs = {target} if _makedirs(target) else set()
            join = os.path.join
            for dirpath, dirnames, filenames in os.walk(root):
                # like Transfer's default, symlinked directories are not followed
                dirnames[:] = sorted(n for n in dirnames if not os.path.islink(join(dirpath, n)))
                rel = os.path.relpath(dirpath, root)
                out = target if rel == "." else join(target, rel)
                for name in dirnames:
                    if _mkdir(join(out, name)):
                        fresh_dirs.add(join(out, name))
                fresh = out in fresh_dirs
                item.files += [
                    _File(join(dirpath, n), join(out, n), fresh) for n in sorted(filenames)
                ]
        except OSError as exc:
            item.error = (_code(exc), f"{exc.filename or root}: {exc.strerror or exc}")
        return item

    @staticmethod
    def _each(pool: ThreadPoolExecutor, files: list[_File], fn: Callable[[_File], None]) -> None:
        """Run ``fn`` on every file, in a few contiguous chunks: per-file futures cost more
        than the work for small files, and a thread working through one directory at a
        time keeps the file system's metadata updates local (as ``cp`` does)."""
        if not files:
            return
        size = -(-len(files) // (pool._max_workers * 4))
        chunks = [files[i : i + size] for i in range(0, len(files), size)]

        def run(chunk: list[_File]) -> None:
            for f in chunk:
                fn(f)

        for _ in pool.map(run, chunks):
            pass

    def _next_token(self) -> str:
        with self._lock:
            self._counter += 1
            return f"{self._token}-{self._counter}"

    def _open_tmp(self, f: _File, mode: int) -> int:
        f.tmp = tmp_name(f.dst, self._next_token())
        return os.open(f.tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode & 0o777)

    def _write(self, f: _File, deadline: float) -> None:
        """Copy ``f.src`` to a temp name beside ``f.dst``, flush it, and verify what was
        written against the source's checksum (the rename comes later, after the batch
        flush)."""
        if time.monotonic() > deadline:
            f.error = (TIMEOUT, f"{f.src}: the deadline passed before this file was copied")
            return
        algorithm = self.options.checksum_algorithm
        try:
            fin = os.open(f.src, os.O_RDONLY)
        except OSError as exc:
            f.error = (_code(exc), f"{f.src}: {exc.strerror or exc}")
            return
        fout = -1
        try:
            st = os.fstat(fin)
            f.size = st.st_size
            if f.size <= SMALL:
                data = _read_all(fin, f.size)
                f.size = len(data)
                f.digest = checksums.of_bytes(data, algorithm)
                if self._identical(f):
                    return
                fout = self._open_tmp(f, st.st_mode)
                _write_all(fout, data)
            else:
                f.digest = checksums.of_fd(fin, f.size, algorithm)
                if self._identical(f):
                    return
                fout = self._open_tmp(f, st.st_mode)
                _copy_range(fin, fout, f.size)
            self._flush(fout, f.size)
            got = written_digest(fout, f.size, algorithm)
            if got != f.digest:
                f.error = (
                    VERIFY_CHECKSUM,
                    f"{f.dst}: checksum mismatch after copy ({algorithm} {got} != source"
                    f" {f.digest}); the destination was left as it was",
                )
        except OSError as exc:
            f.error = (_code(exc), f"{exc.filename or f.dst}: {exc.strerror or exc}")
        finally:
            if fout >= 0:
                os.close(fout)
            os.close(fin)
            if f.error is not None:
                self._discard(f)

    def _identical(self, f: _File) -> bool:
        """Checksum sync: an existing destination with the same content is left alone."""
        if f.fresh:
            return False
        try:
            if os.stat(f.dst).st_size != f.size:
                return False
            same = checksums.of_file(f.dst, self.options.checksum_algorithm) == f.digest
        except OSError:
            return False
        f.unchanged = f.done = same
        return same

    def _flush(self, fd: int, size: int) -> None:
        if self.options.durability == "file":
            os.fsync(fd)
        elif self.options.durability == "batch" and size > SMALL:
            start_writeback(fd)  # big files: overlap the disk write with the rest of the copy

    @staticmethod
    def _sync(dirs: set[str]) -> None:
        seen: set[int] = set()
        for d in sorted(dirs):
            with contextlib.suppress(OSError):
                dev = os.stat(d).st_dev
                if dev not in seen:
                    seen.add(dev)
                    sync_filesystem(Path(d))

    def _rename(self, f: _File) -> None:
        """Move a verified temp file into place (atomic: old or new, never partial)."""
        if f.tmp is None or f.error is not None:
            return
        try:
            os.replace(f.tmp, f.dst)
            f.tmp = None
            f.done = True
            if self.options.durability == "file":
                _fsync_dir(os.path.dirname(f.dst))
        except OSError as exc:
            f.error = (_code(exc), f"{exc.filename or f.dst}: {exc.strerror or exc}")
            self._discard(f)

    @staticmethod
    def _discard(f: _File) -> None:
        if f.tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(f.tmp)
            f.tmp = None

    @staticmethod
    def _result(item: _Item) -> ItemResult:
        src, dst = str(item.source), str(item.destination)
        if item.error is not None:
            code, reason = item.error
            return ItemResult(src, dst, False, "local", code=code, reason=reason, files=0, bytes=0)
        bad = [f for f in item.files if f.error is not None or not f.done]
        written = [f for f in item.files if f.done and not f.unchanged]
        files, size = len(written), sum(f.size for f in written)
        if not bad:
            return ItemResult(src, dst, True, "local", files=files, bytes=size)
        code = bad[0].error[0] if bad[0].error else "NOT_COPIED"
        reasons = "; ".join((f.error or ("", f"{f.src}: not copied"))[1] for f in bad[:3])
        more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
        reason = f"{len(bad)} of {len(item.files)} file(s) not copied: {reasons}{more}"
        return ItemResult(
            src, dst, False, "local", code=code, reason=reason, files=files, bytes=size
        )

    # -- delete -----------------------------------------------------------------------
    def delete(
        self, locations: Sequence[tuple[int, Location]], *, missing_ok: bool
    ) -> list[tuple[int, ItemResult]]:
        """Delete files, and directory trees given with a trailing ``/``."""
        return [(index, self._delete_one(loc, missing_ok)) for index, loc in locations]

    @staticmethod
    def _delete_one(loc: Location, missing_ok: bool) -> ItemResult:
        path = Path(loc.path)

        def failed(code: str, reason: str) -> ItemResult:
            return ItemResult(str(loc), None, False, "local", "delete", code=code, reason=reason)

        try:
            if path.is_dir() and not path.is_symlink():
                if not loc.recursive:
                    return failed("NOT_A_FILE", f"{path} is a directory; delete it as {loc}/")
                files = sum(len(names) for _, _, names in os.walk(path))
                shutil.rmtree(path)
            else:
                path.unlink()
                files = 1
        except FileNotFoundError as exc:
            if missing_ok:
                return ItemResult(str(loc), None, True, "local", "delete", files=0)
            return failed("FILE_NOT_FOUND", f"{exc.filename or path}: no such file or directory")
        except OSError as exc:
            return failed(_code(exc), f"{exc.filename or path}: {exc.strerror or exc}")
        return ItemResult(str(loc), None, True, "local", "delete", files=files)


def _default_workers() -> int:
    """Two threads per usable core (they wait on I/O half the time), at most 8."""
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    return max(2, min(8, 2 * cores))


def _read_all(fd: int, size: int) -> bytes:
    data = os.read(fd, max(size, 1))
    if len(data) < size:  # a short read: read on to the end
        parts = [data]
        while chunk := os.read(fd, SMALL):
            parts.append(chunk)
        data = b"".join(parts)
    return data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _copy_range(fin: int, fout: int, size: int) -> None:
    """In-kernel copy (``copy_file_range``), falling back to read/write."""
    left = size
    try:
        while left > 0:
            n = os.copy_file_range(fin, fout, left)
            if n == 0:
                break
            left -= n
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
        os.lseek(fin, size - left, os.SEEK_SET)
        while left > 0 and (chunk := os.read(fin, min(left, 8 << 20))):
            _write_all(fout, chunk)
            left -= len(chunk)


def _makedirs(path: str) -> bool:
    """``mkdir -p``; True when the leaf directory did not exist before."""
    if os.path.isdir(path):
        return False
    os.makedirs(path, exist_ok=True)
    return True


def _mkdir(path: str) -> bool:
    try:
        os.mkdir(path)
    except FileExistsError:
        if not os.path.isdir(path):
            raise
        return False
    return True


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
