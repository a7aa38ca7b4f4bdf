"""The Globus Transfer API subset that ``globus_sdk.TransferClient`` uses for staging.

Routes (paths as the SDK builds them, found by reading ``globus_sdk.services.transfer``;
response shapes follow the SDK's own ``globus_sdk.testing.data.transfer`` fixtures):

========================================================  ================================
``GET  /v0.10/endpoint_search``                            ``endpoint_search``
``GET  /v0.10/endpoint/{id}``                              ``get_endpoint``
``GET  /v0.10/submission_id``                              ``get_submission_id``
``POST /v0.10/transfer``                                   ``submit_transfer``
``POST /v0.10/delete``                                     ``submit_delete``
``GET  /v0.10/task_list``                                  ``task_list``
``GET  /v0.10/task/{id}``                                  ``get_task``
``GET  /v0.10/task/{id}/event_list``                       ``task_event_list``
``GET  /v0.10/task/{id}/successful_transfers``             ``task_successful_transfers``
``GET  /v0.10/task/{id}/skipped_errors``                   ``task_skipped_errors``
``POST /v0.10/task/{id}/cancel``                           ``cancel_task``
``GET  /v0.10/operation/endpoint/{id}/ls``                 ``operation_ls``
``GET  /v0.10/operation/endpoint/{id}/stat``               ``operation_stat``
``POST /v0.10/operation/endpoint/{id}/mkdir``              ``operation_mkdir``
========================================================  ================================

The last three (filesystem operations) are :mod:`chiltepin.testing.transfer_operations`;
what every route checks first (the collection, its consent) and Transfer's error shape are
:mod:`chiltepin.testing.transfer_access`.

Consent: a collection created with ``requires_consent=True`` behaves like a GCSv5 mapped
collection that needs ``data_access`` consent: any request touching it whose bearer token
was not issued with ``...transfer.api.globus.org:all[<collection>/data_access]`` gets the
403 ``ConsentRequired`` document the real service sends (``required_scopes`` at the top
level and inside ``authorization_parameters``), which ``globus_sdk`` parses into
``TransferAPIError.info.consent_required``.

This is the chiltepin LOCAL STAND-IN, not Globus.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from chiltepin.testing.auth_api import AuthApi
from chiltepin.testing.collections import (
    Collection,
    CollectionStore,
    PathError,
)
from chiltepin.testing.routing import Request, Response, Route
from chiltepin.testing.transfer_access import CollectionAccess, TransferApiError, int_arg
from chiltepin.testing.transfer_operations import TransferOperations
from chiltepin.testing.transfer_runner import TaskRunner
from chiltepin.testing.transfer_tasks import TransferTask, new_task_id, parse_time

SYNC_LEVELS = {"exists": 0, "size": 1, "mtime": 2, "checksum": 3}
UNSUPPORTED_OPTIONS = ("filter_rules", "delete_destination_extra")


class TransferApi:
    """Route handlers over a ``CollectionStore`` and a ``TaskRunner``."""

    def __init__(
        self,
        store: CollectionStore,
        auth: AuthApi,
        runner: TaskRunner,
        *,
        page_size: int = 1000,
    ) -> None:
        self.store = store
        self.access = CollectionAccess(store, auth)
        self.operations = TransferOperations(self.access)
        self.runner = runner
        self.page_size = page_size
        self.lock = threading.Lock()
        self.tasks: dict[str, TransferTask] = {}
        self._submissions: dict[str, str] = {}  # submission id -> task id
        self.calls: Counter[str] = Counter()
        """Requests answered per route name (never trimmed; benchmarks count API calls)."""

    def cancel_all(self) -> None:
        """Ask every running task to stop (the stand-in is shutting down)."""
        with self.lock:
            tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel_requested.set()
        for task in tasks:
            task.done.wait(5)

    def _counted(self, name: str, handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        def counted(req: Request) -> Any:
            with self.lock:
                self.calls[name] += 1
            return handler(req)

        return counted

    def routes(self) -> list[Route]:
        return [
            Route(r.name, r.method, r.template, self._counted(r.name, r.handler))
            for r in self._routes()
        ]

    def _routes(self) -> list[Route]:
        task = "/v0.10/task/{task_id}"
        return [
            Route("transfer_endpoint_search", "GET", "/v0.10/endpoint_search", self.search),
            Route("transfer_get_endpoint", "GET", "/v0.10/endpoint/{endpoint_id}", self.endpoint),
            Route("transfer_submission_id", "GET", "/v0.10/submission_id", self.submission_id),
            Route("transfer_submit", "POST", "/v0.10/transfer", self.submit_transfer),
            Route("transfer_submit_delete", "POST", "/v0.10/delete", self.submit_delete),
            Route("transfer_task_list", "GET", "/v0.10/task_list", self.task_list),
            Route("transfer_get_task", "GET", task, self.get_task),
            Route("transfer_event_list", "GET", f"{task}/event_list", self.event_list),
            Route(
                "transfer_successful_transfers",
                "GET",
                f"{task}/successful_transfers",
                self.successful_transfers,
            ),
            Route("transfer_skipped_errors", "GET", f"{task}/skipped_errors", self.skipped_errors),
            Route("transfer_cancel", "POST", f"{task}/cancel", self.cancel),
            *self.operations.routes(),
        ]

    # -- helpers ----------------------------------------------------------------------
    def _task(self, req: Request) -> TransferTask:
        tid = req.params["task_id"]
        with self.lock:
            task = self.tasks.get(tid)
        if task is None:
            raise TransferApiError(404, "TaskNotFound", f"Task {tid!r} not found", req.path)
        return task

    def _marker_page(self, req: Request, rows: list[dict[str, Any]], kind: str) -> dict[str, Any]:
        start = int_arg(req, "marker", 0)
        page = rows[start : start + self.page_size]
        end = start + len(page)
        return {
            "DATA_TYPE": kind,
            "marker": start,
            "next_marker": end if end < len(rows) else None,
            "DATA": page,
        }

    # -- endpoints --------------------------------------------------------------------
    def search(self, req: Request) -> Any:
        fulltext = req.arg("filter_fulltext")
        scope = req.arg("filter_scope") or "all"
        if scope == "all" and not fulltext:
            raise TransferApiError(
                400,
                "ClientError.BadRequest",
                "filter_fulltext is required when filter_scope is 'all'",
                req.path,
            )
        hits = self.store.search(fulltext, req.arg("filter_entity_type"))
        limit = int_arg(req, "limit", 25, low=1, high=100)
        offset = int_arg(req, "offset", 0, high=999)
        page = hits[offset : offset + limit]
        return {
            "DATA_TYPE": "endpoint_list",
            "DATA": [c.doc() for c in page],
            "limit": limit,
            "offset": offset,
            "has_next_page": offset + limit < len(hits),
        }

    def endpoint(self, req: Request) -> Any:
        return self.access.collection(req, req.params["endpoint_id"]).doc()

    # -- submission -------------------------------------------------------------------
    def submission_id(self, req: Request) -> Any:
        return {"DATA_TYPE": "submission_id", "value": str(uuid.uuid4())}

    def _common(self, req: Request, body: dict[str, Any], data_type: str) -> dict[str, Any]:
        if body.get("DATA_TYPE") != data_type:
            raise TransferApiError(
                400,
                "ClientError.BadRequest",
                f"DATA_TYPE must be {data_type!r}, got {body.get('DATA_TYPE')!r}",
                req.path,
            )
        for key in UNSUPPORTED_OPTIONS:
            if body.get(key):
                raise TransferApiError(
                    400,
                    "ClientError.BadRequest",
                    f"{key} is not implemented by the chiltepin stand-in (not Globus)",
                    req.path,
                )
        sid = body.get("submission_id")
        try:
            uuid.UUID(str(sid))
        except ValueError as exc:
            raise TransferApiError(
                400,
                "ClientError.BadRequest.InvalidSubmissionId",
                f"submission_id must be a UUID from GET /submission_id, got {sid!r}",
                req.path,
            ) from exc
        if not body.get("DATA"):
            noun = "transfer" if data_type == "transfer" else "delete"
            raise TransferApiError(
                400,
                f"ClientError.BadRequest.No{noun.title()}Items",
                f"A {noun} requires at least one item",
                req.path,
            )
        return body

    def _accepted(self, req: Request, task: TransferTask, kind: str, duplicate: bool) -> Response:
        tid = task.task_id
        code, message = (
            ("Duplicate", f"A {kind} with submission id {task.submission_id} was already accepted")
            if duplicate
            else (
                "Accepted",
                f"The {kind} has been accepted and a task has been created and queued for"
                " execution",
            )
        )
        return Response(
            200 if duplicate else 202,
            {
                "DATA_TYPE": f"{kind}_result",
                "code": code,
                "message": message,
                "request_id": uuid.uuid4().hex[:9],
                "resource": f"/{kind}",
                "submission_id": task.submission_id,
                "task_id": tid,
                "task_link": {
                    "DATA_TYPE": "link",
                    "href": f"task/{tid}?format=json",
                    "rel": "related",
                    "resource": "task",
                    "title": "related task",
                },
            },
        )

    def _register(self, task: TransferTask) -> tuple[TransferTask, bool]:
        with self.lock:
            existing = self._submissions.get(task.submission_id)
            if existing is not None:
                return self.tasks[existing], True
            self.tasks[task.task_id] = task
            self._submissions[task.submission_id] = task.task_id
        self.runner.start(task)
        return task, False

    def _deadline(self, req: Request, body: dict[str, Any]) -> float | None:
        try:
            return parse_time(body.get("deadline"))
        except ValueError as exc:
            raise TransferApiError(
                400, "ClientError.BadRequest", f"invalid deadline: {exc}", req.path
            ) from exc

    def submit_transfer(self, req: Request) -> Response:
        body = self._common(req, req.json(), "transfer")
        src = self.access.collection(req, str(body.get("source_endpoint")))
        dst = self.access.collection(req, str(body.get("destination_endpoint")))
        self.access.check_consent(req, src, dst)
        items = []
        for i, item in enumerate(body["DATA"]):
            if item.get("DATA_TYPE") != "transfer_item" or not (
                item.get("source_path") and item.get("destination_path")
            ):
                raise TransferApiError(
                    400,
                    "ClientError.BadRequest",
                    f"DATA[{i}] must be a transfer_item with source_path and destination_path",
                    req.path,
                )
            for side, coll in (("source_path", src), ("destination_path", dst)):
                try:
                    coll.normalise(item[side])
                except PathError as exc:
                    raise TransferApiError(
                        400, "ClientError.BadRequest", f"DATA[{i}].{side}: {exc}", req.path
                    ) from exc
            items.append(item)
        level = body.get("sync_level")
        if isinstance(level, str):
            level = SYNC_LEVELS.get(level, level)
        if level is not None and level not in (0, 1, 2, 3):
            raise TransferApiError(
                400, "ClientError.BadRequest", f"invalid sync_level {level!r}", req.path
            )
        options = {
            "sync_level": level,
            "verify_checksum": bool(body.get("verify_checksum", True)),
            "preserve_timestamp": bool(body.get("preserve_timestamp", False)),
            "encrypt_data": bool(body.get("encrypt_data", False)),
            "skip_source_errors": bool(body.get("skip_source_errors", False)),
            "fail_on_quota_errors": bool(body.get("fail_on_quota_errors", False)),
        }
        return self._submit_task(req, body, "TRANSFER", src, dst, items, options)

    def submit_delete(self, req: Request) -> Response:
        body = self._common(req, req.json(), "delete")
        coll = self.access.collection(req, str(body.get("endpoint")))
        self.access.check_consent(req, coll)
        items = []
        for i, item in enumerate(body["DATA"]):
            if item.get("DATA_TYPE") != "delete_item" or not item.get("path"):
                raise TransferApiError(
                    400,
                    "ClientError.BadRequest",
                    f"DATA[{i}] must be a delete_item with a path",
                    req.path,
                )
            items.append(item)
        options = {
            "recursive": bool(body.get("recursive", False)),
            "ignore_missing": bool(body.get("ignore_missing", False)),
        }
        return self._submit_task(req, body, "DELETE", coll, None, items, options)

    def _submit_task(
        self,
        req: Request,
        body: dict[str, Any],
        kind: str,
        source: Collection,
        destination: Collection | None,
        items: list[dict[str, Any]],
        options: dict[str, Any],
    ) -> Response:
        """Register a validated transfer or delete document as a task (or find its twin)."""
        task = TransferTask(
            task_id=new_task_id(),
            type=kind,
            owner_id=self.access.owner(req),
            submission_id=str(body["submission_id"]),
            source=source,
            destination=destination,
            items=items,
            options=options,
            label=body.get("label"),
            deadline=self._deadline(req, body),
        )
        task, duplicate = self._register(task)
        return self._accepted(req, task, kind.lower(), duplicate)

    # -- tasks ------------------------------------------------------------------------
    def task_list(self, req: Request) -> Any:
        with self.lock:
            tasks = list(self.tasks.values())
        for clause in req.query.get("filter", []):
            for part in clause.split("/"):
                key, _, value = part.partition(":")
                wanted = set(value.split(","))
                if key == "task_id":
                    tasks = [t for t in tasks if t.task_id in wanted]
                elif key == "status":
                    tasks = [t for t in tasks if t.status in wanted]
                elif key == "type":
                    tasks = [t for t in tasks if t.type in wanted]
        limit = int_arg(req, "limit", 10, low=1, high=1000)
        offset = int_arg(req, "offset", 0)
        page = tasks[offset : offset + limit]
        return {
            "DATA_TYPE": "task_list",
            "DATA": [t.doc() for t in page],
            "length": len(page),
            "limit": limit,
            "offset": offset,
            "total": len(tasks),
        }

    def get_task(self, req: Request) -> Any:
        return self._task(req).doc()

    def event_list(self, req: Request) -> Any:
        task = self._task(req)
        with task.lock:
            events = list(reversed(task.events))  # newest first
        limit = int_arg(req, "limit", 10, low=1, high=1000)
        offset = int_arg(req, "offset", 0)
        page = events[offset : offset + limit]
        return {
            "DATA_TYPE": "event_list",
            "DATA": page,
            "length": len(page),
            "limit": limit,
            "offset": offset,
            "total": len(events),
        }

    def successful_transfers(self, req: Request) -> Any:
        task = self._task(req)
        with task.lock:
            rows = list(task.successful)
        return self._marker_page(req, rows, "successful_transfers")

    def skipped_errors(self, req: Request) -> Any:
        task = self._task(req)
        with task.lock:
            rows = list(task.skipped)
        return self._marker_page(req, rows, "skipped_errors")

    def cancel(self, req: Request) -> Any:
        task = self._task(req)
        resource = f"/task/{task.task_id}/cancel"
        if task.done.is_set():
            return {
                "DATA_TYPE": "result",
                "code": "TaskComplete",
                "message": "The task completed before the cancel request was processed.",
                "resource": resource,
                "request_id": uuid.uuid4().hex[:9],
            }
        task.cancel_requested.set()
        if task.done.wait(10):
            code, message = "Canceled", "The task has been cancelled successfully."
        else:
            code, message = "CancelAccepted", "The cancel request has been accepted."
        return {
            "DATA_TYPE": "result",
            "code": code,
            "message": message,
            "resource": resource,
            "request_id": uuid.uuid4().hex[:9],
        }
