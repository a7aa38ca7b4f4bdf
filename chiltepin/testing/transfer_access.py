"""Who may touch which stand-in collection, and Transfer's error shape: what the task
routes (:mod:`chiltepin.testing.transfer_api`) and the filesystem operations
(:mod:`chiltepin.testing.transfer_operations`) both check before doing anything."""

from __future__ import annotations

from typing import Any

from chiltepin.testing.auth_api import AuthApi
from chiltepin.testing.collections import (
    Collection,
    CollectionStore,
    required_scope,
    scope_has_data_access,
)
from chiltepin.testing.faults import error_body
from chiltepin.testing.routing import ApiError, Request, Response


class TransferApiError(ApiError):
    """An error answered in Transfer's shape, optionally with extra top-level fields."""

    def __init__(
        self, status: int, code: str, message: str, resource: str = "", **extra: Any
    ) -> None:
        super().__init__(status, code, message)
        self.resource = resource
        self.extra = extra

    def response(self) -> Response:
        body = error_body(self.status, self.code, self.message)
        body["resource"] = self.resource
        body.update(self.extra)
        return Response(self.status, body)


def int_arg(req: Request, name: str, default: int, *, low: int = 0, high: int = 10**9) -> int:
    raw = req.arg(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError as exc:
        raise TransferApiError(
            400, "ClientError.BadRequest", f"{name} must be an integer, got {raw!r}", req.path
        ) from exc
    return max(low, min(high, value))


class CollectionAccess:
    """A request's collections, found in the store and checked for consent."""

    def __init__(self, store: CollectionStore, auth: AuthApi) -> None:
        self.store = store
        self.auth = auth

    def owner(self, req: Request) -> str:
        return self.auth.identities_for(req)[0].sub

    def collection(self, req: Request, collection_id: str) -> Collection:
        try:
            return self.store.get(collection_id)
        except ApiError as err:
            raise TransferApiError(404, err.code, err.message, req.path) from err

    def check_consent(self, req: Request, *collections: Collection) -> None:
        """403 ``ConsentRequired`` unless the token carries each collection's data_access."""
        info = self.auth.token_info(req.bearer_token or "")
        granted = info.requested if info is not None else ""
        missing = [
            c.id
            for c in collections
            if c.requires_consent and not scope_has_data_access(granted, c.id)
        ]
        if not missing:
            return
        scopes = [required_scope(missing)]
        message = "Missing required data_access consent"
        raise TransferApiError(
            403,
            "ConsentRequired",
            message,
            req.path.removeprefix("/v0.10"),
            required_scopes=scopes,
            authorization_parameters={"required_scopes": scopes, "session_message": message},
        )
