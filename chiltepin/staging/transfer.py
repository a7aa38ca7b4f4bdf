"""Globus Transfer backend: batched tasks, checksum sync and verification, a deadline that
cancels, and a result for every item.

Why batched: peers submit one Transfer task per file (a thousand files cost thousands of
API calls and a thousand tasks in the user's activity list). Here items are grouped by
(source collection, destination collection) and submitted as few tasks as
``max_items_per_task`` allows, all before waiting on any.

Why every item is accounted for: the service reports per-file successes
(``successful_transfers``), skipped source errors (``skipped_errors``) and, for a failed
task, error events. Each submitted item is matched against those, so the caller learns
which item failed and why; an item the service cannot confirm is reported failed, never
assumed done.

Why cancel: when the deadline passes the task is cancelled at the service (and the service
is given its own deadline, a little later, in case this process dies first).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import globus_sdk

from chiltepin.staging.locations import Location
from chiltepin.staging.options import StagingOptions
from chiltepin.staging.resolve import CollectionResolver
from chiltepin.staging.results import (
    CONSENT_REQUIRED,
    NOT_TRANSFERRED,
    SUBMIT_FAILED,
    TIMEOUT,
    ItemResult,
    TaskResult,
)
from chiltepin.system.waiting import wait_until

log = logging.getLogger("chiltepin.staging")

DONE_STATUSES = ("SUCCEEDED", "FAILED")
DATA_ACCESS_RE = re.compile(r"scopes/([0-9a-fA-F-]{36})/data_access")
CANCEL_SETTLE_S = 15.0
SUBMIT_NETWORK_TRIES = 3  # on top of the SDK's own retries

ConsentFixer = Callable[[list[str]], "globus_sdk.TransferClient | None"]
"""Given collection UUIDs that need consent, return a client that has it (or ``None``)."""


@dataclass
class _Item:
    index: int
    source: Location
    destination: Location | None
    source_path: str
    destination_path: str | None

    @property
    def recursive(self) -> bool:
        return self.source.recursive

    def result(self, ok: bool, **kw: Any) -> ItemResult:
        return ItemResult(
            source=str(self.source),
            destination=None if self.destination is None else str(self.destination),
            ok=ok,
            backend="transfer",
            operation="copy" if self.destination is not None else "delete",
            **kw,
        )


@dataclass
class _Batch:
    kind: Literal["TRANSFER", "DELETE"]
    source_id: str
    destination_id: str | None
    items: list[_Item]
    recursive: bool = False
    ignore_missing: bool = False
    task_id: str | None = None
    doc: dict[str, Any] | None = None
    submit_error: tuple[str, str] | None = None  # (code, reason)
    consent_scopes: list[str] = field(default_factory=list)
    cancelled: bool = False


@dataclass
class TransferOutcome:
    """Results of one backend call, plus what the service asked for (consents)."""

    items: list[tuple[int, ItemResult]]
    tasks: list[TaskResult]
    consent_collections: list[str]
    consent_scopes: list[str]


def _as_dir(path: str) -> str:
    return path.rstrip("/") + "/"


def _norm(path: str) -> str:
    return path.rstrip("/") or "/"


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _mentions(text: str, path: str) -> bool:
    return re.search(re.escape(_norm(path)) + r"(?=[/'\"\s]|$)", text) is not None


class TransferBackend:
    """Moves ``globus://`` items with a ``globus_sdk.TransferClient``."""

    def __init__(
        self,
        client: globus_sdk.TransferClient,
        options: StagingOptions,
        *,
        resolver: CollectionResolver | None = None,
        fix_consent: ConsentFixer | None = None,
    ) -> None:
        self.client = client
        self.options = options
        self.resolver = resolver or CollectionResolver(client)
        self.fix_consent = fix_consent

    # -- public -----------------------------------------------------------------------
    def copy(
        self, pairs: Sequence[tuple[int, Location, Location]], deadline: float
    ) -> TransferOutcome:
        """Copy ``(index, source, destination)`` pairs; ``deadline`` is ``time.monotonic()``."""
        ids = self._resolve({ref for _, s, d in pairs for ref in (s.collection, d.collection)})
        groups: dict[tuple[str, str], list[_Item]] = {}
        for index, src, dst in pairs:
            key = (ids[src.collection or ""], ids[dst.collection or ""])
            groups.setdefault(key, []).append(
                _Item(
                    index,
                    src,
                    dst,
                    _as_dir(src.path) if src.recursive else src.path,
                    _as_dir(dst.path) if src.recursive else dst.path,
                )
            )
        batches = [
            _Batch("TRANSFER", s, d, chunk)
            for (s, d), items in groups.items()
            for chunk in self._chunks(items)
        ]
        return self._run(batches, deadline)

    def delete(
        self, locations: Sequence[tuple[int, Location]], deadline: float, *, missing_ok: bool
    ) -> TransferOutcome:
        """Delete ``(index, location)`` items, one task per (collection, recursive) group."""
        ids = self._resolve({loc.collection for _, loc in locations})
        groups: dict[tuple[str, bool], list[_Item]] = {}
        for index, loc in locations:
            groups.setdefault((ids[loc.collection or ""], loc.recursive), []).append(
                _Item(index, loc, None, loc.path, None)
            )
        batches = [
            _Batch("DELETE", cid, None, chunk, recursive=rec, ignore_missing=missing_ok)
            for (cid, rec), items in groups.items()
            for chunk in self._chunks(items)
        ]
        return self._run(batches, deadline)

    # -- steps ------------------------------------------------------------------------
    def _resolve(self, refs: set[str | None]) -> dict[str, str]:
        return {ref: self.resolver.resolve(ref).id for ref in sorted(r for r in refs if r)}

    def _chunks(self, items: list[_Item]) -> list[list[_Item]]:
        n = self.options.max_items_per_task
        return [items[i : i + n] for i in range(0, len(items), n)]

    def _run(self, batches: list[_Batch], deadline: float) -> TransferOutcome:
        service_deadline = datetime.now(timezone.utc) + timedelta(
            seconds=max(deadline - time.monotonic(), 0) + self.options.service_grace_s
        )
        try:
            for batch in batches:
                if time.monotonic() >= deadline:
                    batch.submit_error = (TIMEOUT, "the deadline passed before submission")
                else:
                    self._submit(batch, service_deadline)
            self._wait([b for b in batches if b.task_id], deadline)
        except BaseException:
            # never leave a task running behind an error (or Ctrl-C) in this process
            for batch in batches:
                if batch.task_id and batch.doc is None:
                    self._cancel(batch, settle_s=2.0)
            raise
        items: list[tuple[int, ItemResult]] = []
        tasks: list[TaskResult] = []
        consent_scopes: list[str] = []
        for batch in batches:
            consent_scopes += batch.consent_scopes
            items += self._collect(batch)
            if batch.task_id and batch.doc is not None:
                tasks.append(self._task_result(batch))
        collections = list(
            dict.fromkeys(m for s in consent_scopes for m in DATA_ACCESS_RE.findall(s))
        )
        return TransferOutcome(items, tasks, collections, list(dict.fromkeys(consent_scopes)))

    def _payload(self, batch: _Batch, service_deadline: datetime) -> dict[str, Any]:
        opts = self.options
        submission_id = self.client.get_submission_id()["value"]
        if batch.kind == "DELETE":
            delete = globus_sdk.DeleteData(
                batch.source_id,
                label=opts.label,
                submission_id=submission_id,
                recursive=batch.recursive,
                ignore_missing=batch.ignore_missing,
                deadline=service_deadline,
            )
            for item in batch.items:
                delete.add_item(item.source_path)
            return dict(delete)
        assert batch.destination_id is not None
        data = globus_sdk.TransferData(
            batch.source_id,
            batch.destination_id,
            label=opts.label,
            submission_id=submission_id,
            sync_level=opts.sync_level if opts.sync_level is not None else globus_sdk.MISSING,
            verify_checksum=opts.verify_checksum,
            preserve_timestamp=opts.preserve_timestamp,
            encrypt_data=opts.encrypt_data,
            skip_source_errors=opts.skip_source_errors,
            deadline=service_deadline,
        )
        for item in batch.items:
            assert item.destination_path is not None
            data.add_item(item.source_path, item.destination_path, recursive=item.recursive)
        return dict(data)

    def _submit(self, batch: _Batch, service_deadline: datetime) -> None:
        """Submit one batch (retrying once with consent if a fixer can get it).

        A lost connection is retried with the same payload: its ``submission_id`` makes the
        service answer with the task it already created (``Duplicate``), never a second one.
        """
        retried = False
        payload: dict[str, Any] | None = None
        network_tries = 0
        while True:
            try:
                payload = payload or self._payload(batch, service_deadline)
                submit = (
                    self.client.submit_delete
                    if batch.kind == "DELETE"
                    else self.client.submit_transfer
                )
                batch.task_id = submit(payload)["task_id"]
                log.info(
                    "staging: %s task %s submitted (%d items)",
                    batch.kind,
                    batch.task_id,
                    len(batch.items),
                )
                return
            except globus_sdk.TransferAPIError as err:
                consent = err.info.consent_required
                if consent:
                    wanted = [m for s in consent.required_scopes for m in DATA_ACCESS_RE.findall(s)]
                    if not retried and self.fix_consent is not None:
                        client = self.fix_consent(wanted)
                        if client is not None:
                            self.client = client
                            retried, payload = True, None
                            continue
                    batch.consent_scopes = list(consent.required_scopes)
                    batch.submit_error = (
                        CONSENT_REQUIRED,
                        f"collection(s) {', '.join(wanted) or '?'} need data_access consent:"
                        f" {err.message}",
                    )
                else:
                    batch.submit_error = (
                        str(err.code or SUBMIT_FAILED),
                        f"Transfer refused the {batch.kind.lower()} task"
                        f" (HTTP {err.http_status}): {_first_line(err.message)}",
                    )
                return
            except globus_sdk.NetworkError as err:
                network_tries += 1
                if payload is not None and network_tries < SUBMIT_NETWORK_TRIES:
                    time.sleep(2.0 * network_tries)
                    continue
                batch.submit_error = (SUBMIT_FAILED, f"could not reach Globus Transfer: {err}")
                return

    def _wait(self, batches: list[_Batch], deadline: float) -> None:
        interval = self.options.poll_interval_s
        active = list(batches)
        while active:
            for batch in list(active):
                doc = self._status(batch)
                if doc is not None and doc.get("status") in DONE_STATUSES:
                    batch.doc = doc
                    active.remove(batch)
            if not active:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                for batch in active:
                    self._cancel(batch)
                return
            time.sleep(min(interval, left))
            interval = min(interval * 1.5, self.options.max_poll_interval_s)

    def _status(self, batch: _Batch) -> dict[str, Any] | None:
        assert batch.task_id is not None
        try:
            return dict(self.client.get_task(batch.task_id).data)
        except (globus_sdk.GlobusAPIError, globus_sdk.NetworkError) as err:
            log.warning("staging: status of task %s unavailable: %s", batch.task_id, err)
            return None

    def _cancel(self, batch: _Batch, settle_s: float = CANCEL_SETTLE_S) -> None:
        """Cancel at the service and wait (briefly) until it says the task has ended."""
        assert batch.task_id is not None
        batch.cancelled = True
        try:
            self.client.cancel_task(batch.task_id)
            log.warning("staging: Transfer task %s cancelled (deadline)", batch.task_id)
        except (globus_sdk.GlobusAPIError, globus_sdk.NetworkError) as err:
            log.error("staging: could not cancel Transfer task %s: %s", batch.task_id, err)

        def ended() -> bool:
            doc = self._status(batch)
            if doc is not None:
                batch.doc = doc
            return doc is not None and doc.get("status") in DONE_STATUSES

        wait_until(ended, settle_s, interval=0.2)

    # -- per-item results -------------------------------------------------------------
    def _collect(self, batch: _Batch) -> list[tuple[int, ItemResult]]:
        if batch.submit_error is not None:
            code, reason = batch.submit_error
            return [(i.index, i.result(False, code=code, reason=reason)) for i in batch.items]
        assert batch.task_id is not None
        doc = batch.doc or {}
        tid, status = batch.task_id, doc.get("status", "UNKNOWN")
        skipped = (
            self._paged("task_skipped_errors", tid) if doc.get("subtasks_skipped_errors") else []
        )
        successes = (
            self._paged("task_successful_transfers", tid) if doc.get("files_transferred") else []
        )
        failed_task = status != "SUCCEEDED"
        events = self._error_events(tid) if failed_task else []
        fatal = doc.get("fatal_error") or {}

        by_path: dict[str, list[_Item]] = {}  # every item, by its own source path
        trees = [item for item in batch.items if item.recursive]  # ... and the paths below
        for item in batch.items:
            by_path.setdefault(_norm(item.source_path), []).append(item)

        def owners(path: str) -> list[_Item]:
            p = _norm(path)
            found = list(by_path.get(p, []))
            found += [t for t in trees if p.startswith(_norm(t.source_path) + "/")]
            return found

        files: dict[int, int] = {}
        for row in successes:
            for item in owners(row.get("source_path", "")):
                files[id(item)] = files.get(id(item), 0) + 1
        errors: dict[int, list[dict[str, Any]]] = {}
        for row in skipped:
            for item in owners(row.get("source_path", "")):
                errors.setdefault(id(item), []).append(row)

        culprit = next(
            (str(ev.get("details", "")) for ev in events if ev.get("code") == fatal.get("code")),
            "",
        )

        return [
            (item.index, self._item_result(batch, item, files.get(id(item), 0), errors, culprit))
            for item in batch.items
        ]

    @staticmethod
    def _item_result(
        batch: _Batch,
        item: _Item,
        n: int | None,
        errors: dict[int, list[dict[str, Any]]],
        culprit: str,
    ) -> ItemResult:
        """Decide one item: skipped source errors, then the task's outcome."""
        if batch.kind == "DELETE":
            n = None  # Transfer does not count deleted files per item
        doc = batch.doc or {}
        tid, status = batch.task_id, str(doc.get("status", "UNKNOWN"))
        fatal = doc.get("fatal_error") or {}
        if id(item) in errors:
            rows = errors[id(item)]
            paths = ", ".join(r.get("source_path", "?") for r in rows[:3])
            more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
            detail = _first_line(rows[0].get("error_details"))
            reason = f"{len(rows)} source path(s) failed ({paths}{more})" + (
                f": {detail}" if detail else ""
            )
            code = rows[0].get("error_code")
            return item.result(False, task_id=tid, code=code, reason=reason, files=n)
        if status == "SUCCEEDED":
            return item.result(True, task_id=tid, files=n)
        if batch.kind == "TRANSFER" and not item.recursive and n:
            return item.result(True, task_id=tid, files=n)  # confirmed before the failure
        if batch.cancelled:
            reason = (
                f"the deadline passed before Transfer finished; task {tid} was cancelled"
                f" (service status {status}, {fatal.get('code', 'no fatal error yet')})"
            )
            return item.result(False, task_id=tid, code=TIMEOUT, reason=reason, files=n)
        named = culprit and (
            _mentions(culprit, item.source_path)
            or (item.destination_path is not None and _mentions(culprit, item.destination_path))
        )
        if named:
            reason = f"{fatal.get('description', 'failed')}: {_first_line(culprit)}"
            return item.result(False, task_id=tid, code=fatal.get("code"), reason=reason, files=n)
        reason = (
            f"Transfer task {tid} failed ({fatal.get('code', status)}:"
            f" {fatal.get('description', '')}) before this item was confirmed"
        )
        return item.result(False, task_id=tid, code=NOT_TRANSFERRED, reason=reason, files=n)

    def _paged(self, method: str, task_id: str) -> list[dict[str, Any]]:
        try:
            pages = getattr(self.client.paginated, method)(task_id)
            return [dict(row) for row in pages.items()]
        except (globus_sdk.GlobusAPIError, globus_sdk.NetworkError) as err:
            log.warning("staging: %s for task %s unavailable: %s", method, task_id, err)
            return []

    def _error_events(self, task_id: str) -> list[dict[str, Any]]:
        try:
            return [
                dict(ev)
                for ev in self.client.task_event_list(task_id, limit=100)
                if ev.get("is_error")
            ]
        except (globus_sdk.GlobusAPIError, globus_sdk.NetworkError) as err:
            log.warning("staging: events of task %s unavailable: %s", task_id, err)
            return []

    @staticmethod
    def _task_result(batch: _Batch) -> TaskResult:
        doc = batch.doc or {}
        assert batch.task_id is not None
        return TaskResult(
            task_id=batch.task_id,
            kind=batch.kind,
            source_collection=batch.source_id,
            destination_collection=batch.destination_id,
            items=len(batch.items),
            status=str(doc.get("status", "UNKNOWN")),
            fatal_error=doc.get("fatal_error"),
            files_transferred=int(doc.get("files_transferred") or 0),
            files_skipped=int(doc.get("files_skipped") or 0),
            bytes_transferred=int(doc.get("bytes_transferred") or 0),
            cancelled=batch.cancelled,
        )
