"""The dashboard's web server: the runs list, a run's page, and the JSON they poll.

Built on the standard library's threading HTTP server: the dashboard serves one user a
few small JSON documents a second, so an async framework would add dependencies and no
capacity, and a server that imports nothing beyond chiltepin can also run inside a
federated run later.

Secure by default, as Jupyter is: it binds 127.0.0.1; every request needs the random
token the server prints in its URL (as ``?token=``; the first page sets it as an
HttpOnly, same-site cookie so the page's own requests carry it); without it the answer is
401, with a wrong one 403, whatever the path. It is read-only (GET and HEAD only), serves
its own assets from the package (the page makes no request elsewhere, and its
content-security policy forbids any), and opens only run directories directly under its
root (:class:`~chiltepin.dashboard.runs.Runs`).

``/endpoints`` is the endpoints page (:mod:`.endpoints`): the one page whose JSON may lead
to a request to the Compute web service, and then only within
:mod:`.endpoint_status`'s rates, which leave the request budget to the runs.

``/metrics`` serves Prometheus' text format (:mod:`.metrics`). Prometheus sends a token as
``Authorization: Bearer <token>`` (its scrape config's ``authorization: credentials:``),
so the token is also taken from that header.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import socket
import threading
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chiltepin.dashboard.assets import asset as _asset
from chiltepin.dashboard.endpoint_status import StatusPoller
from chiltepin.dashboard.endpoints import Endpoints, configured_endpoints
from chiltepin.dashboard.metrics import registry
from chiltepin.dashboard.runs import Runs, UnknownRun, document
from chiltepin.dashboard.token import new_token

log = logging.getLogger(__name__)
LOOPBACK = "127.0.0.1"
ASSETS = {  # name → content type: the only files served from the package
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "runs.html": "text/html; charset=utf-8",
    "run.html": "text/html; charset=utf-8",
    "endpoints.html": "text/html; charset=utf-8",
}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never pass it on
    "Cache-Control": "no-store",
}


def host_warning(host: str) -> str | None:
    """What to tell the user who serves on ``host``, if it is not a loopback address."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        loopback = False
    if loopback:
        return None
    return (
        f"serving on {host}, not loopback: anyone who can reach this machine and learns the"
        " token can read your runs (their tasks, errors and costs)"
    )


class Dashboard:
    """A dashboard over the runs under ``runs_dir`` (or those ``Runs`` shows), served from a
    thread of its own. ``sites``: the sites file whose endpoint sites the endpoints page
    lists (beside those the runs name); ``poller`` asks the service for their status;
    ``token`` is the one every request must bring (a fresh random one if None; see
    :mod:`chiltepin.dashboard.token` for one kept in a file)."""

    def __init__(
        self,
        runs_dir: Path | Runs,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        sites: Path | None = None,
        poller: StatusPoller | None = None,
        token: str | None = None,
    ) -> None:
        self.runs = runs_dir if isinstance(runs_dir, Runs) else Runs(runs_dir)
        self.endpoints = Endpoints(self.runs, configured_endpoints(sites), poller)
        self._metrics = registry(self.runs)
        self.token = token or new_token()
        server = _IPv6Server if ":" in host else ThreadingHTTPServer
        self._server = server((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="chiltepin-dashboard", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def cookie(self) -> str:
        """The token's cookie name: one per port, so two dashboards do not collide."""
        return f"chiltepin-dashboard-{self.address[1]}"

    @property
    def url(self) -> str:
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/?token={self.token}"

    def start(self) -> Dashboard:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (``chiltepin dashboard``)."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket. The server is asked to shut down only when
        it serves in its own thread (:meth:`start`): ``shutdown()`` waits for a serving
        loop to finish, and one that never ran (a Ctrl-C before :meth:`serve_forever`
        began) or ran in this thread (and has returned) would never say so."""
        self.endpoints.poller.stop()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def authorised(
        self, query: dict[str, list[str]], cookie: str | None, bearer: str | None = None
    ) -> HTTPStatus | None:
        """None if the request carries the token (in the query, a bearer header or the
        cookie, the first of them given); else the status to answer with."""
        given = query.get("token", [None])[0] or bearer or cookie
        if not given:
            return HTTPStatus.UNAUTHORIZED
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return HTTPStatus.FORBIDDEN
        return None

    def route(self, path: str) -> tuple[HTTPStatus, str, bytes]:
        """(status, content type, body) for an authorised GET of ``path``."""
        parts = path.split("/")[1:]
        if path == "/":
            return HTTPStatus.OK, ASSETS["runs.html"], _asset("runs.html")
        if parts[0] == "static" and len(parts) == 2 and parts[1] in ASSETS:
            return HTTPStatus.OK, ASSETS[parts[1]], _asset(parts[1])
        if path == "/metrics":
            return HTTPStatus.OK, CONTENT_TYPE_LATEST, generate_latest(self._metrics)
        if parts == ["api", "runs"]:
            return _json(self.runs.summaries())
        if path == "/endpoints":
            return HTTPStatus.OK, ASSETS["endpoints.html"], _asset("endpoints.html")
        if parts == ["api", "endpoints"]:
            return _json(self.endpoints.document())
        try:
            if parts[0] == "run" and len(parts) == 2:
                self.runs.view(parts[1])  # a run page only for a run there is
                return HTTPStatus.OK, ASSETS["run.html"], _asset("run.html")
            if parts[:2] == ["api", "run"] and len(parts) == 3:
                return _json(document(self.runs.view(parts[2])))
        except UnknownRun:
            pass
        return HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n"


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _json(value: Any) -> tuple[HTTPStatus, str, bytes]:
    return HTTPStatus.OK, "application/json", json.dumps(value).encode()


def _handler(dashboard: Dashboard) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "chiltepin-dashboard"
        sys_version = ""

        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def _refuse(self) -> None:
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, "text/plain", b"read-only\n", True)

        do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse

        def _answer(self, *, body: bool) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            refused = dashboard.authorised(query, self._cookie(), self._bearer())
            if refused is not None:
                self._send(
                    refused, "text/plain", f"{refused.phrase}: token needed\n".encode(), body
                )
                return
            try:
                status, kind, content = dashboard.route(unquote(url.path))
            except Exception:  # a journal that vanished mid-read, a bug: say so, keep serving
                log.exception("dashboard: %s failed", url.path)
                status, kind = HTTPStatus.INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8"
                content = b"the dashboard could not read this; see its log\n"
            extra = {}
            if "token" in query:  # the page's own requests carry it from now on
                extra["Set-Cookie"] = (
                    f"{dashboard.cookie}={dashboard.token}; HttpOnly; SameSite=Strict; Path=/"
                )
            self._send(status, kind, content, body, extra)

        def _bearer(self) -> str | None:
            scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
            return credentials.strip() or None if scheme.lower() == "bearer" else None

        def _cookie(self) -> str | None:
            try:
                jar = SimpleCookie(self.headers.get("Cookie", ""))
            except CookieError:
                return None
            morsel = jar.get(dashboard.cookie)
            return morsel.value if morsel else None

        def _send(
            self,
            status: HTTPStatus,
            kind: str,
            content: bytes,
            body: bool,
            extra: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            for name, value in {**HEADERS, **(extra or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if body:
                self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler
