"""The Globus Auth subset the SDK and the endpoint use, answered locally.

Who calls what (found by running the real clients against the stand-in):

* ``POST /v2/oauth2/token`` — ``globus_sdk.ClientApp`` (``GLOBUS_COMPUTE_CLIENT_ID`` /
  ``_SECRET``) asks for client-credentials tokens, one per resource server it needs
  (``funcx_service`` for Compute, ``auth.globus.org`` for userinfo); refresh grants too.
* ``GET /v2/oauth2/userinfo`` — the template-capable endpoint, once at start, to learn
  which identities may start user endpoints (``identity_set``).
* ``POST /v2/oauth2/token/introspect``, ``GET /v2/api/identities`` — served for
  completeness (``whoami``-style tools).

Every token maps to one stand-in user identity (plus the client's own identity for
client-credentials tokens), so the submitter and the endpoint always share an identity
and user-endpoint starts are trusted, as they are for a single real user.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from base64 import b64decode
from dataclasses import dataclass, field
from typing import Any

from chiltepin.testing.routing import ApiError, Request, Response, Route

STANDIN_USER_ID = "5e7a1d1e-0000-4c11-8e11-000000057a4d"
STANDIN_USERNAME = "standin-user@chiltepin.local"
COMPUTE_SCOPE_CLIENT = "facd7ccc-c5f4-42aa-916b-a0e270e2c2a9"
TOKEN_LIFETIME_S = 172800
ISSUER = "https://auth.globus.org"
"""The ``iss`` of Auth's tokens; the stand-in's tokens are opaque strings, never JWTs."""


def resource_server_for(scope: str) -> str:
    """Map one scope string to the resource server Globus Auth would issue it for."""
    base = scope.split("[", 1)[0].strip()
    if base in ("openid", "profile", "email") or base.startswith(
        "urn:globus:auth:scope:auth.globus.org:"
    ):
        return "auth.globus.org"
    m = re.match(r"urn:globus:auth:scope:([^:]+):", base)
    if m:
        return m.group(1)
    m = re.match(r"https://auth\.globus\.org/scopes/([^/]+)/", base)
    if m:
        return "funcx_service" if m.group(1) == COMPUTE_SCOPE_CLIENT else m.group(1)
    return base


def _split_scopes(scope_param: str) -> list[str]:
    """Split a space-separated scope string, keeping ``a[b c]`` dependent scopes whole."""
    out, depth, cur = [], 0, ""
    for ch in scope_param:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == " " and depth == 0:
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


@dataclass
class Identity:
    sub: str
    username: str
    name: str = "Chiltepin stand-in user"
    email: str = "standin-user@chiltepin.local"

    def doc(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "id": self.sub,
            "username": self.username,
            "name": self.name,
            "email": self.email,
            "identity_provider": "00000000-0000-4000-8000-0000057a4d00",
            "identity_provider_display_name": "chiltepin stand-in (not Globus)",
            "organization": "chiltepin stand-in",
            "status": "used",
            "identity_type": "login",
        }


@dataclass
class TokenInfo:
    identities: list[Identity]
    resource_server: str
    scope: str
    client_id: str | None
    expires_at: float = field(default_factory=lambda: time.time() + TOKEN_LIFETIME_S)
    requested: str = ""
    """The scopes as requested, dependent scopes included (``scope`` lists roots only, as
    Globus Auth does); the Transfer stand-in reads ``data_access`` consents from here."""


class AuthApi:
    """Issues and remembers tokens; answers who a request is."""

    def __init__(self, client_id: str, client_secret: str, *, check_secret: bool = False) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.check_secret = check_secret
        self.user = Identity(STANDIN_USER_ID, STANDIN_USERNAME)
        self._tokens: dict[str, TokenInfo] = {}
        self._lock = threading.Lock()

    # -- identities -------------------------------------------------------------------
    def identities_for(self, req: Request) -> list[Identity]:
        """Identity set behind the request's bearer token; the stand-in user if none."""
        token = req.bearer_token
        if token:
            with self._lock:
                info = self._tokens.get(token)
            if info:
                return info.identities
        return [self.user]

    def _client_identity(self, client_id: str) -> Identity:
        return Identity(
            client_id, f"{client_id}@clients.auth.globus.org", name="stand-in client", email=""
        )

    def token_info(self, token: str) -> TokenInfo | None:
        """What the stand-in issued ``token`` for (``None`` if it did not issue it)."""
        with self._lock:
            return self._tokens.get(token)

    # -- routes -----------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [
            Route("token", "POST", "/v2/oauth2/token", self.token),
            Route("introspect", "POST", "/v2/oauth2/token/introspect", self.introspect),
            Route("revoke", "POST", "/v2/oauth2/token/revoke", self.revoke),
            Route("userinfo", "GET", "/v2/oauth2/userinfo", self.userinfo),
            Route("userinfo_post", "POST", "/v2/oauth2/userinfo", self.userinfo),
            Route("identities", "GET", "/v2/api/identities", self.identities),
        ]

    def _client_from(self, req: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
        auth = req.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                cid, _, secret = b64decode(auth[6:]).decode().partition(":")
                return cid, secret
            except Exception:
                return None, None
        return form.get("client_id"), form.get("client_secret")

    def _oauth_error(self, status: int, error: str, description: str) -> Response:
        # Auth's OAuth errors use the RFC 6749 shape the endpoint CLI checks for
        return Response(status, {"error": error, "error_description": description})

    def token(self, req: Request) -> Response:
        form = req.form()
        grant = form.get("grant_type", "")
        client_id, secret = self._client_from(req, form)
        if self.check_secret and (client_id, secret) != (self.client_id, self.client_secret):
            return self._oauth_error(401, "invalid_client", "unknown client or wrong secret")
        if grant == "client_credentials" and client_id not in (None, self.client_id):
            # another client is another Globus identity (<id>@clients.auth.globus.org), as
            # Auth gives every confidential client: how tests act as several users
            identities = [self._client_identity(client_id)]
        elif grant == "client_credentials":
            identities = [self.user, self._client_identity(client_id or self.client_id)]
        elif grant == "refresh_token":
            with self._lock:
                info = self._tokens.get(form.get("refresh_token", ""))
            if info is None:
                return self._oauth_error(400, "invalid_grant", "unknown refresh token")
            identities = info.identities
            form.setdefault("scope", info.requested or info.scope)
        else:
            return self._oauth_error(
                400,
                "unsupported_grant_type",
                f"the chiltepin stand-in supports client_credentials and refresh_token, not"
                f" {grant!r}: set GLOBUS_COMPUTE_CLIENT_ID/SECRET from `chiltepin testing up`",
            )
        scopes = _split_scopes(
            form.get("scope") or f"https://auth.globus.org/scopes/{COMPUTE_SCOPE_CLIENT}/all"
        )
        by_rs: dict[str, list[str]] = {}
        for s in scopes:
            by_rs.setdefault(resource_server_for(s), []).append(s)
        docs = []
        for rs, rs_scopes in by_rs.items():
            access = f"standin-at-{secrets.token_urlsafe(24)}"
            refresh = f"standin-rt-{secrets.token_urlsafe(24)}"
            roots = " ".join(dict.fromkeys(x.split("[", 1)[0].strip() for x in rs_scopes))
            info = TokenInfo(identities, rs, roots, client_id, requested=" ".join(rs_scopes))
            with self._lock:
                self._tokens[access] = info
                self._tokens[refresh] = info
            doc: dict[str, Any] = {
                "access_token": access,
                "scope": info.scope,
                "resource_server": rs,
                "expires_in": TOKEN_LIFETIME_S,
                "token_type": "Bearer",
                "state": "_default",
            }
            if grant == "refresh_token":
                doc["refresh_token"] = refresh
            docs.append(doc)
        primary = dict(docs[0])
        primary["other_tokens"] = docs[1:]
        return Response(200, primary)

    def introspect(self, req: Request) -> Response:
        token = req.form().get("token", "")
        with self._lock:
            info = self._tokens.get(token)
        if info is None:
            return Response(200, {"active": False})
        return Response(
            200,
            {
                "active": True,
                "scope": info.scope,
                "client_id": info.client_id,
                "sub": info.identities[0].sub,
                "username": info.identities[0].username,
                "name": info.identities[0].name,
                "email": info.identities[0].email,
                "aud": [info.resource_server],
                "exp": int(info.expires_at),
                "iat": int(info.expires_at - TOKEN_LIFETIME_S),
                "nbf": int(info.expires_at - TOKEN_LIFETIME_S),
                "iss": ISSUER,
                "identity_set": [i.sub for i in info.identities],
                "token_type": "Bearer",
            },
        )

    def revoke(self, req: Request) -> Response:
        token = req.form().get("token", "")
        with self._lock:
            self._tokens.pop(token, None)
        return Response(200, {"active": False})

    def _refusal(self, status: int) -> Response:
        """Auth's own error document for an unauthenticated (401) or wrong-token (403) call."""
        code = "UNAUTHORIZED" if status == 401 else "FORBIDDEN"
        error = {
            "status": str(status),
            "id": str(uuid.uuid4()),
            "code": code,
            "detail": "Call must be authenticated",
            "title": "Unauthorized",
        }
        return Response(
            status,
            {"errors": [error], "error_description": "Unauthorized", "error": "unauthorized"},
        )

    def _authenticated(self, req: Request, *, auth_token: bool) -> TokenInfo | Response:
        """The caller's token, or Auth's refusal: 401 without a token the stand-in issued;
        403 when ``auth_token`` and the token is for another resource server."""
        info = self.token_info(req.bearer_token or "")
        if info is None:
            return self._refusal(401)
        if auth_token and info.resource_server != "auth.globus.org":
            return self._refusal(403)
        return info

    def userinfo(self, req: Request) -> Response:
        info = self._authenticated(req, auth_token=True)
        if isinstance(info, Response):
            return info
        idents = info.identities
        first = idents[0]
        return Response(
            200,
            {
                "sub": first.sub,
                "preferred_username": first.username,
                "name": first.name,
                "email": first.email,
                "identity_provider": first.doc()["identity_provider"],
                "identity_provider_display_name": "chiltepin stand-in (not Globus)",
                "organization": "chiltepin stand-in",
                "last_authentication": int(time.time()),
                "identity_set": [i.doc() for i in idents],
            },
        )

    def identities(self, req: Request) -> Response:
        info = self._authenticated(req, auth_token=False)
        if isinstance(info, Response):
            return info
        known = {i.sub: i for i in info.identities}
        known[self.user.sub] = self.user
        ids = [x for v in req.query.get("ids", []) for x in v.split(",") if x]
        names = [x for v in req.query.get("usernames", []) for x in v.split(",") if x]
        if ids and names:
            raise ApiError(400, "INVALID_PARAMETERS", "ids and usernames are mutually exclusive")
        out = []
        for sub in ids:
            if sub in known:
                out.append(known[sub].doc())
            else:
                try:
                    uuid.UUID(sub)
                except ValueError as exc:
                    raise ApiError(400, "INVALID_PARAMETERS", f"not a UUID: {sub}") from exc
        for name in names:
            out.extend(i.doc() for i in known.values() if i.username == name)
        return Response(200, {"identities": out})
