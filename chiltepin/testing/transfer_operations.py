"""The Transfer API's filesystem operations on a stand-in collection (``ls``, ``stat``,
``mkdir``: ``/v0.10/operation/endpoint/{id}/...``), answered at once from the collection's
directory; the task routes are :mod:`chiltepin.testing.transfer_api`.

This is the chiltepin LOCAL STAND-IN, not Globus.
"""

from __future__ import annotations

import stat as stat_module
import uuid
from datetime import datetime, timezone
from typing import Any

from chiltepin.testing.collections import Collection, PathError
from chiltepin.testing.routing import Request, Route
from chiltepin.testing.transfer_access import CollectionAccess, TransferApiError, int_arg


def _mtime(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S+00:00")


class TransferOperations:
    """Route handlers for the operations, over the collections ``access`` finds."""

    def __init__(self, access: CollectionAccess) -> None:
        self.access = access

    def routes(self) -> list[Route]:
        op = "/v0.10/operation/endpoint/{endpoint_id}"
        return [
            Route("transfer_ls", "GET", f"{op}/ls", self.ls),
            Route("transfer_stat", "GET", f"{op}/stat", self.stat),
            Route("transfer_mkdir", "POST", f"{op}/mkdir", self.mkdir),
        ]

    def _op_target(self, req: Request, default: str = "/~/") -> tuple[Collection, str, Any]:
        coll = self.access.collection(req, req.params["endpoint_id"])
        self.access.check_consent(req, coll)
        path = req.arg("path") or default
        try:
            local = coll.local(path)
        except PathError as exc:
            raise TransferApiError(400, "ClientError.BadRequest", str(exc), req.path) from exc
        if coll.is_denied(path):
            raise TransferApiError(
                403,
                "EndpointPermissionDenied",
                f"Denied by endpoint, Error (list)\nEndpoint: {coll.display_name} ({coll.id})\n"
                f"Message: Permission denied\nPath: {path}",
                req.path,
            )
        return coll, path, local

    @staticmethod
    def _file_doc(name: str, st: Any) -> dict[str, Any]:
        kind = "dir" if stat_module.S_ISDIR(st.st_mode) else "file"
        return {
            "DATA_TYPE": "file",
            "name": name,
            "type": kind,
            "size": st.st_size,
            "permissions": f"{stat_module.S_IMODE(st.st_mode):04o}",
            "last_modified": _mtime(st.st_mtime),
            "user": "standin-user",
            "group": "standin",
            "link_target": None,
            "link_group": None,
            "link_last_modified": None,
            "link_size": None,
            "link_user": None,
        }

    def ls(self, req: Request) -> Any:
        coll, path, local = self._op_target(req)
        if not local.exists():
            raise TransferApiError(
                404,
                "ClientError.NotFound",
                f"Path not found, Error (list)\nEndpoint: {coll.display_name} ({coll.id})\n"
                f"Message: No such file or directory\nPath: {path}",
                req.path,
            )
        if not local.is_dir():
            raise TransferApiError(
                502,
                "ExternalError.DirListingFailed.NotDirectory",
                f"Directory listing failed: {path} is not a directory",
                req.path,
            )
        show_hidden = req.arg("show_hidden") not in ("0", "false", "False")
        entries = []
        for child in sorted(local.iterdir(), key=lambda p: p.name):
            if not show_hidden and child.name.startswith("."):
                continue
            entries.append(self._file_doc(child.name, child.stat()))
        limit = int_arg(req, "limit", 100000, low=1, high=100000)
        offset = int_arg(req, "offset", 0)
        page = entries[offset : offset + limit]
        norm = coll.normalise(path)
        return {
            "DATA_TYPE": "file_list",
            "DATA": page,
            "path": norm.rstrip("/") + "/",
            "absolute_path": norm.rstrip("/") + "/",
            "endpoint": coll.id,
            "length": len(page),
            "total": len(entries),
            "rename_supported": True,
            "symlink_supported": False,
        }

    def stat(self, req: Request) -> Any:
        coll, path, local = self._op_target(req, default="")
        if not local.exists():
            raise TransferApiError(
                404,
                "NotFound",
                f"Path not found, Error (list)\nEndpoint: {coll.display_name} ({coll.id})\n"
                f"Message: No such file or directory\nPath: {path}",
                req.path,
            )
        return self._file_doc(local.name, local.stat())

    def mkdir(self, req: Request) -> Any:
        coll = self.access.collection(req, req.params["endpoint_id"])
        self.access.check_consent(req, coll)
        body = req.json()
        path = str(body.get("path") or "")
        try:
            local = coll.local(path)
        except PathError as exc:
            raise TransferApiError(400, "ClientError.BadRequest", str(exc), req.path) from exc
        if coll.is_denied(path):
            raise TransferApiError(
                403, "EndpointPermissionDenied", f"Permission denied: {path}", req.path
            )
        if local.exists():
            raise TransferApiError(
                502, "ExternalError.MkdirFailed.Exists", f"Path already exists: {path}", req.path
            )
        try:
            local.mkdir()
        except FileNotFoundError as exc:
            raise TransferApiError(
                502, "ExternalError.MkdirFailed.NotFound", f"Parent missing: {path}", req.path
            ) from exc
        return {
            "DATA_TYPE": "mkdir_result",
            "code": "DirectoryCreated",
            "message": "The directory was created successfully",
            "request_id": uuid.uuid4().hex[:9],
            "resource": f"/operation/endpoint/{coll.id}/mkdir",
        }
