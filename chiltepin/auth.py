"""The one place that builds Globus apps and clients for Compute and Transfer.

People log in once, interactively, and consent to everything chiltepin will need: Compute,
Transfer and ``data_access`` on each mapped collection they name. Pipelines and CI set
``GLOBUS_COMPUTE_CLIENT_ID`` / ``GLOBUS_COMPUTE_CLIENT_SECRET`` and are never prompted.
Tokens live in the Globus Compute SDK's own token storage, so a login here is a login for
the SDK and the endpoint too; they are never printed or logged.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import globus_sdk
from globus_compute_sdk import Client
from globus_sdk.scopes import ComputeScopes, GCSCollectionScopes, Scope, TransferScopes

from chiltepin.errors import ChiltepinError
from chiltepin.upstream.sdk import compute_app

CLIENT_ID_ENV = "GLOBUS_COMPUTE_CLIENT_ID"
CLIENT_SECRET_ENV = "GLOBUS_COMPUTE_CLIENT_SECRET"


def uses_client_credentials() -> bool:
    """Whether this process authenticates as a client identity (CI, pipelines)."""
    return bool(os.environ.get(CLIENT_ID_ENV) and os.environ.get(CLIENT_SECRET_ENV))


def transfer_scope(collections: Iterable[str] = ()) -> Scope:
    """Transfer's scope, with ``data_access`` consent for each mapped collection named."""
    dependencies = [GCSCollectionScopes(c).data_access for c in collections]
    return (
        TransferScopes.all.with_dependencies(dependencies) if dependencies else TransferScopes.all
    )


def globus_app(collections: Iterable[str] = ()) -> globus_sdk.GlobusApp:
    """The SDK's app (user or client identity) asking for Compute and Transfer together,
    so one login covers both."""
    try:
        app = compute_app()
    except ValueError as err:  # a secret without an id, or the reverse
        raise ChiltepinError(str(err)) from err
    app.add_scope_requirements(
        {
            ComputeScopes.resource_server: [ComputeScopes.all],
            TransferScopes.resource_server: [transfer_scope(collections)],
        }
    )
    return app


def compute_client(app: globus_sdk.GlobusApp | None = None, **kwargs: Any) -> Client:
    """A Globus Compute SDK client sharing chiltepin's app."""
    return Client(app=app or globus_app(), **kwargs)


def transfer_client(
    collections: Iterable[str] = (), app: globus_sdk.GlobusApp | None = None
) -> globus_sdk.TransferClient:
    """A Transfer client; ``collections`` adds their ``data_access`` consents."""
    return globus_sdk.TransferClient(app=app or globus_app(collections))


def login(collections: Iterable[str] = (), *, force: bool = False) -> globus_sdk.GlobusApp:
    """Log in (people) or fetch a token (client credentials). Never prompts without a TTY.

    With client credentials and collections, a token is always fetched: the app cannot
    tell that a stored token lacks a collection's ``data_access`` dependency.
    """
    collections = list(collections)
    app = globus_app(collections)
    force = force or (uses_client_credentials() and bool(collections))
    if not force and not app.login_required():
        return app
    if not uses_client_credentials() and not sys.stdin.isatty():
        raise ChiltepinError(
            "not logged in, and there is no terminal to log in from. For CI and pipelines set"
            f" {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} (a Globus client identity); people run"
            " `chiltepin login` in a terminal once."
        )
    app.login(force=force)
    return app


def logout() -> None:
    """Revoke and forget the stored tokens."""
    globus_app().logout()


@dataclass(frozen=True)
class Identity:
    """Who chiltepin acts as. Carries no token."""

    id: str
    username: str
    client_credentials: bool


def whoami(app: globus_sdk.GlobusApp | None = None) -> Identity:
    """The identity of ``app`` (default: chiltepin's app); never fetches a new token when
    given the app that just logged in."""
    app = app or globus_app()
    if app.login_required():
        raise ChiltepinError("not logged in: run `chiltepin login`")
    info = globus_sdk.AuthClient(app=app).userinfo()
    return Identity(
        id=info["sub"],
        username=info.get("preferred_username") or info["sub"],
        client_credentials=uses_client_credentials(),
    )
