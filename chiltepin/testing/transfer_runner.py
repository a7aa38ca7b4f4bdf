"""What the stand-in's Transfer service does behind ``POST /transfer`` and ``POST /delete``.

The task record it works on is :mod:`chiltepin.testing.transfer_tasks`.

Each accepted task gets one worker thread that does the work for real, on the collections'
directories: it expands recursive items, honours ``sync_level`` (exists, size, mtime,
checksum), copies files, verifies MD5 checksums when ``verify_checksum`` is set (retrying a
file whose destination does not match, as the service does), records per-file successes,
skipped source errors and events, and ends ``SUCCEEDED`` or ``FAILED`` with a
``fatal_error``.  A cancel request or the task's ``deadline`` stops it between (or during)
files.

Stand-in simplifications (the real service's exact rules are not public):

* a source error (missing path, permission denied, a directory without ``recursive``) is
  fatal unless ``skip_source_errors`` is set, in which case it is recorded in
  ``skipped_errors`` and the task goes on;
* a destination error is always fatal;
* a file whose checksum still mismatches after ``max_verify_attempts`` copies fails the
  task with ``VERIFY_CHECKSUM`` (the service would retry until the deadline);
* a deadline ends the task with ``fatal_error.code == "EXPIRED"``, a cancel with
  ``"CANCELED"``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chiltepin.testing.collections import Collection, CollectionStore, PathError, join
from chiltepin.testing.transfer_tasks import FAILED, SUCCEEDED, TransferTask, now_iso

SYNC_EXISTS, SYNC_SIZE, SYNC_MTIME, SYNC_CHECKSUM = 0, 1, 2, 3
CHUNK = 1 << 20


def md5_file(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class _Stop(Exception):
    """The task must end now (``code``: CANCELED, EXPIRED or a fatal error code)."""

    def __init__(self, code: str, description: str, details: str = "") -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.details = details


class _SourceError(Exception):
    def __init__(self, code: str, details: str, is_directory: bool = False) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.is_directory = is_directory


@dataclass
class FileOp:
    """One file to copy, coming from item ``item`` of the submission."""

    item: int
    source_path: str
    destination_path: str


class TaskRunner:
    """Runs tasks on worker threads against a ``CollectionStore``."""

    def __init__(self, store: CollectionStore, *, max_verify_attempts: int = 3) -> None:
        self.store = store
        self.max_verify_attempts = max_verify_attempts

    def start(self, task: TransferTask) -> None:
        target = self._run_transfer if task.type == "TRANSFER" else self._run_delete
        thread = threading.Thread(
            target=self._guarded, args=(task, target), name=f"standin-transfer-{task.task_id[:8]}"
        )
        thread.daemon = True
        thread.start()

    # -- lifecycle --------------------------------------------------------------------
    def _guarded(self, task: TransferTask, body: Any) -> None:
        task.event("STARTED", "started", f"chiltepin stand-in worker for {task.type} task")
        task.nice_status = "OK"
        try:
            body(task)
        except _Stop as stop:
            self._finish_failed(task, stop)
        except Exception as exc:  # a stand-in bug must still end the task, loudly
            self._finish_failed(task, _Stop("ENDPOINT_ERROR", f"stand-in error: {exc!r}"))
        else:
            task.event("SUCCEEDED", "succeeded", self._summary(task))
            with task.lock:
                task.status = SUCCEEDED
                task.completion_time = now_iso()
        finally:
            task.done.set()

    def _finish_failed(self, task: TransferTask, stop: _Stop) -> None:
        task.event(stop.code, stop.description.lower(), stop.details, error=True)
        with task.lock:
            pending = task.counts["subtasks_pending"]
            task.counts["subtasks_pending"] = 0
            if stop.code == "CANCELED":
                task.counts["subtasks_canceled"] += pending
            elif stop.code == "EXPIRED":
                task.counts["subtasks_expired"] += pending
            else:
                task.counts["subtasks_failed"] += max(pending, 1)
            task.fatal_error = {"code": stop.code, "description": stop.description}
            task.status = FAILED
            task.completion_time = now_iso()

    @staticmethod
    def _summary(task: TransferTask) -> str:
        c = task.counts
        return (
            f"files={c['files']} directories={c['directories']}"
            f" transferred={c['files_transferred']} skipped={c['files_skipped']}"
            f" bytes={c['bytes_transferred']} skipped_errors={c['subtasks_skipped_errors']}"
        )

    def _check(self, task: TransferTask) -> None:
        """Stop here if the task was cancelled or its deadline passed."""
        if task.cancel_requested.is_set():
            raise _Stop("CANCELED", "The task was canceled by the user")
        if task.deadline is not None and time.time() > task.deadline:
            raise _Stop("EXPIRED", "The task deadline expired before it completed")

    def _sleep(self, task: TransferTask, seconds: float) -> None:
        end = time.monotonic() + seconds
        while True:
            self._check(task)
            left = end - time.monotonic()
            if left <= 0:
                return
            task.cancel_requested.wait(min(left, 0.05))

    # -- transfer ---------------------------------------------------------------------
    def _run_transfer(self, task: TransferTask) -> None:
        src, dst = task.source, task.destination
        assert dst is not None
        ops = list(self._expand(task, src, dst))
        task.bump(subtasks_pending=len(ops))
        for op in ops:
            self._check(task)
            self._copy_one(task, src, dst, op)

    def _source_error(self, task: TransferTask, item: dict[str, Any], err: _SourceError) -> None:
        """Record a source error: skipped when allowed, else fatal."""
        details = f"{err.details}\nSource: {task.source.display_name} ({task.source.id})"
        if not task.options.get("skip_source_errors"):
            raise _Stop(err.code, _DESCRIPTIONS.get(err.code, err.code), details)
        task.event(err.code, _DESCRIPTIONS.get(err.code, err.code), details, error=True)
        with task.lock:
            task.counts["subtasks_skipped_errors"] += 1
            task.counts["subtasks_total"] += 1
            task.skipped.append(
                {
                    "DATA_TYPE": "skipped_error",
                    "source_path": item["source_path"],
                    "destination_path": item["destination_path"],
                    "error_code": err.code,
                    "error_details": err.details,
                    "error_time": now_iso(),
                    "is_directory": err.is_directory,
                    "is_symlink": False,
                    "is_delete_destination_extra": False,
                    "checksum_algorithm": None,
                    "external_checksum": None,
                }
            )

    def _stat_source(self, coll: Collection, path: str) -> Path:
        try:
            local = coll.local(path)
        except PathError as exc:
            raise _SourceError("INVALID_PATH", f"Path {path!r}: {exc}") from exc
        if coll.is_denied(path):
            raise _SourceError("PERMISSION_DENIED", f"Path {path!r}: Permission denied")
        if not local.exists():
            raise _SourceError("FILE_NOT_FOUND", f"Path {path!r}: No such file or directory")
        return local

    def _expand(self, task: TransferTask, src: Collection, dst: Collection) -> Iterator[FileOp]:
        """Files to copy, item by item; directories are created on the way."""
        for index, item in enumerate(task.items):
            spath, dpath = item["source_path"], item["destination_path"]
            recursive = bool(item.get("recursive"))
            try:
                local = self._stat_source(src, spath)
                if local.is_dir() and not recursive:
                    raise _SourceError(
                        "NOT_A_FILE",
                        f"Path {spath!r} is a directory; the item needs recursive=true",
                        True,
                    )
            except _SourceError as err:
                self._source_error(task, item, err)
                continue
            if not local.is_dir():
                yield FileOp(index, spath, dpath)
                continue
            # a directory tree: walk it (denied sub-paths are source errors too)
            for root, dirs, files in os.walk(local):
                rel = Path(root).relative_to(local).as_posix()
                sub_src = spath.rstrip("/") + ("" if rel == "." else "/" + rel)
                sub_dst = dpath.rstrip("/") + ("" if rel == "." else "/" + rel)
                if src.is_denied(sub_src):
                    self._source_error(
                        task,
                        {"source_path": sub_src + "/", "destination_path": sub_dst + "/"},
                        _SourceError(
                            "PERMISSION_DENIED", f"Path {sub_src!r}: Permission denied", True
                        ),
                    )
                    dirs[:] = []
                    continue
                self._make_dir(task, dst, sub_dst)
                task.bump(directories=1, subtasks_total=1, subtasks_succeeded=1)
                dirs.sort()
                for name in sorted(files):
                    yield FileOp(index, join(sub_src, name), join(sub_dst, name))

    def _make_dir(self, task: TransferTask, dst: Collection, path: str) -> None:
        self._check_destination(task, dst, path)
        try:
            dst.local(path).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _dest_stop(exc, dst, path) from exc

    def _check_destination(self, task: TransferTask, dst: Collection, path: str) -> None:
        try:
            dst.normalise(path)
        except PathError as exc:
            raise _Stop("INVALID_PATH", f"Invalid destination path {path!r}", str(exc)) from exc
        if dst.is_denied(path):
            raise _Stop(
                "PERMISSION_DENIED",
                "Permission denied",
                f"Path {path!r}: Permission denied\nDestination: {dst.display_name} ({dst.id})",
            )

    def _copy_one(self, task: TransferTask, src: Collection, dst: Collection, op: FileOp) -> None:
        task.bump(files=1, subtasks_total=1)
        try:
            s_local = self._stat_source(src, op.source_path)
        except _SourceError as err:  # vanished or denied since the item was expanded
            task.bump(subtasks_pending=-1, subtasks_total=-1)
            self._source_error(
                task,
                {"source_path": op.source_path, "destination_path": op.destination_path},
                err,
            )
            return
        self._check_destination(task, dst, op.destination_path)
        d_local = dst.local(op.destination_path)
        size = s_local.stat().st_size
        if self._in_sync(task, s_local, d_local):
            task.bump(files_skipped=1, subtasks_pending=-1, subtasks_succeeded=1)
            return
        delay = max(src.item_delay_s, dst.item_delay_s)
        if delay:
            self._sleep(task, delay)
        rates = [r for r in (src.bytes_per_s, dst.bytes_per_s) if r]
        rate = min(rates) if rates else None
        for attempt in range(1, self.max_verify_attempts + 1):
            source_sum = self._write(task, s_local, d_local, dst, op.destination_path, rate)
            if dst.take_corruption(op.destination_path):
                _flip_a_byte(d_local)
            if not task.options.get("verify_checksum"):
                break
            dest_sum = md5_file(d_local)
            task.bump(bytes_checksummed=2 * size)
            if dest_sum == source_sum:
                break
            task.bump(faults=1)
            details = (
                f"Checksum mismatch for {op.source_path!r} -> {op.destination_path!r}"
                f" (attempt {attempt} of {self.max_verify_attempts}): source MD5"
                f" {source_sum}, destination MD5 {dest_sum}\n"
                f"Destination: {dst.display_name} ({dst.id})"
            )
            if attempt == self.max_verify_attempts:
                raise _Stop("VERIFY_CHECKSUM", "Checksum verification failed", details)
            task.event(
                "VERIFY_CHECKSUM", "checksum verification failed; retrying", details, error=True
            )
        task.bump(
            files_transferred=1,
            bytes_transferred=size,
            subtasks_pending=-1,
            subtasks_succeeded=1,
        )
        with task.lock:
            task.successful.append(
                {
                    "DATA_TYPE": "successful_transfer",
                    "source_path": op.source_path,
                    "destination_path": op.destination_path,
                }
            )

    def _in_sync(self, task: TransferTask, s_local: Path, d_local: Path) -> bool:
        level = task.options.get("sync_level")
        if level is None or not d_local.is_file():
            return False
        s, d = s_local.stat(), d_local.stat()
        if level == SYNC_EXISTS:
            return True
        if level == SYNC_SIZE:
            return s.st_size == d.st_size
        if level == SYNC_MTIME:
            return int(d.st_mtime) >= int(s.st_mtime)
        if s.st_size != d.st_size:
            return False
        task.bump(bytes_checksummed=2 * s.st_size)
        return md5_file(s_local) == md5_file(d_local)

    def _write(
        self,
        task: TransferTask,
        s_local: Path,
        d_local: Path,
        dst: Collection,
        dpath: str,
        rate: float | None,
    ) -> str:
        """Copy one file (throttled if asked); return the source's MD5."""
        h = hashlib.md5()
        chunk = CHUNK if rate is None else max(1, min(CHUNK, int(rate / 20) or 1))
        started = time.monotonic()
        sent = 0
        try:
            d_local.parent.mkdir(parents=True, exist_ok=True)
            with s_local.open("rb") as fin, d_local.open("wb") as fout:
                while data := fin.read(chunk):
                    h.update(data)
                    fout.write(data)
                    sent += len(data)
                    if rate is not None:
                        ahead = sent / rate - (time.monotonic() - started)
                        if ahead > 0:
                            fout.flush()
                            self._sleep(task, ahead)
            if task.options.get("preserve_timestamp"):
                shutil.copystat(s_local, d_local)
        except _Stop:
            raise
        except OSError as exc:
            raise _dest_stop(exc, dst, dpath) from exc
        return h.hexdigest()

    # -- delete -----------------------------------------------------------------------
    def _run_delete(self, task: TransferTask) -> None:
        coll = task.source
        recursive = bool(task.options.get("recursive"))
        ignore_missing = bool(task.options.get("ignore_missing"))
        task.bump(subtasks_pending=len(task.items))
        for item in task.items:
            self._check(task)
            path = item["path"]
            try:
                local = coll.local(path)
            except PathError as exc:
                raise _Stop("INVALID_PATH", f"Invalid path {path!r}", str(exc)) from exc
            where = f"Path {path!r}\nEndpoint: {coll.display_name} ({coll.id})"
            if coll.is_denied(path):
                raise _Stop("PERMISSION_DENIED", "Permission denied", f"{where}: Permission denied")
            if not local.exists() and not local.is_symlink():
                if ignore_missing:
                    task.bump(subtasks_pending=-1, subtasks_succeeded=1, subtasks_total=1)
                    continue
                raise _Stop(
                    "FILE_NOT_FOUND", "File not found", f"{where}: No such file or directory"
                )
            if local.is_dir() and not local.is_symlink():
                if not recursive:
                    raise _Stop(
                        "NOT_A_FILE",
                        "Directory delete needs recursive",
                        f"{where}: is a directory and the task is not recursive",
                    )
                files = sum(len(f) for _, _, f in os.walk(local))
                if local == coll.root:
                    raise _Stop("PERMISSION_DENIED", "Permission denied", f"{where}: root")
                shutil.rmtree(local)
                task.bump(files=files, directories=1)
            else:
                local.unlink()
                task.bump(files=1)
            task.bump(subtasks_pending=-1, subtasks_succeeded=1, subtasks_total=1)


_DESCRIPTIONS = {
    "FILE_NOT_FOUND": "File not found",
    "PERMISSION_DENIED": "Permission denied",
    "NOT_A_FILE": "Not a file",
    "INVALID_PATH": "Invalid path",
}


def _dest_stop(exc: OSError, dst: Collection, path: str) -> _Stop:
    code = {
        errno.ENOENT: "FILE_NOT_FOUND",
        errno.EACCES: "PERMISSION_DENIED",
        errno.EPERM: "PERMISSION_DENIED",
        errno.ENOSPC: "QUOTA_EXCEEDED",
        errno.EDQUOT: "QUOTA_EXCEEDED",
    }.get(exc.errno or 0, "ENDPOINT_ERROR")
    return _Stop(
        code,
        _DESCRIPTIONS.get(code, "Endpoint error"),
        f"Path {path!r}: {exc.strerror or exc}\nDestination: {dst.display_name} ({dst.id})",
    )


def _flip_a_byte(path: Path) -> None:
    """Fault injection: corrupt a copied file (an empty file gains a byte)."""
    with contextlib.suppress(OSError), path.open("r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([(first[0] ^ 0xFF) if first else 0x2A]))
