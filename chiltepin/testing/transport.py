"""The stand-in's HTTP transport: a threaded HTTP server on loopback that answers each
request from route tables.

Two tables: the Globus APIs' routes (Compute, Auth, Transfer), which go through the
stand-in's pause, injected faults and strict shaping, and its own admin routes
(``/_standin/...``, :mod:`chiltepin.testing.admin_api`), which never do. Every response
carries ``X-Chiltepin-Stand-In: true``. An unknown Globus route answers 404 with a body
naming it, is logged loudly and remembered (``unknown_routes``), so a new SDK version that
calls something new is noticed at once. What the stand-in *is* (its state, broker and test
controls) is :class:`~chiltepin.testing.server.GlobusStandIn`; this module only moves
requests and answers.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chiltepin.errors import ChiltepinError
from chiltepin.system import processes
from chiltepin.testing.admin_api import PREFIX as ADMIN_PREFIX
from chiltepin.testing.faults import Faults, error_body
from chiltepin.testing.routing import ApiError, Request, Response, Route
from chiltepin.testing.shaping import Shaper

log = logging.getLogger("chiltepin.testing")

STAND_IN_HEADER = "X-Chiltepin-Stand-In"
REQUEST_LOG_MAX = 10000  # then the older half is dropped


class StandInError(ChiltepinError):
    """The stand-in could not start (port taken, broker missing...)."""


def port_owner(port: int) -> str | None:
    """Describe the process listening on TCP ``port`` (``pid 123: cmdline``), if we can see it."""
    pids = processes.listening_on(port)
    if not pids:
        return None
    for pid in pids:
        command = None if pid is None else processes.command_line(pid)
        if command is not None:
            return f"pid {pid}: {command}"
    return "an unknown process (not visible from here)"


def check_port_free(host: str, port: int) -> None:
    """Fail with a message naming the listener if ``host:port`` is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            owner = port_owner(port) or "another process"
            hint = (
                " (the SDK's and endpoint's `local` environment hard-wire localhost:5000; stop"
                " that process, or `chiltepin testing down` if it is an earlier stand-in)"
                if port == 5000
                else ""
            )
            raise StandInError(
                f"cannot start the Globus stand-in: {host}:{port} is in use by {owner}{hint}"
            ) from exc


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    transport: HttpTransport


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: headers and body go out as two writes; with Nagle on, the body waits
    # for the client's delayed ACK and every keep-alive request costs ~40 ms.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def _handle(self) -> None:
        self.server.transport.handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("stand-in http: " + format, *args)


def _find(routes: list[Route], req: Request) -> Route | None:
    """The route ``req`` is for (its path parameters set on ``req``), if any."""
    for route in routes:
        params = route.match(req.method, req.path)
        if params is not None:
            req.params = params
            return route
    return None


def _response(result: Any) -> Response:
    return result if isinstance(result, Response) else Response(200, result)


class HttpTransport:
    """Serves the Globus API ``routes`` and the ``admin_routes`` (from :meth:`start`)."""

    def __init__(
        self,
        *,
        routes: list[Route],
        admin_routes: list[Route],
        faults: Faults,
        shaper: Shaper,
    ) -> None:
        self.routes = routes
        self.admin_routes = admin_routes
        self.faults = faults
        self.shaper = shaper
        self.unknown_routes: list[str] = []
        self.request_log: list[tuple[str, str, int]] = []
        self.request_timings: list[tuple[str, str, float]] = []  # seconds spent answering
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (the stand-in's: a session picks its port late)."""
        httpd = _HTTPServer((host, port), _Handler)
        httpd.transport = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="standin-http",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def handle(self, h: _Handler) -> None:
        """Answer one HTTP request (on the server's thread for it) and log it."""
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        req = Request(
            method=h.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
        )
        route_name = "admin"
        started = time.perf_counter()
        try:
            if req.path.startswith(ADMIN_PREFIX):
                resp = self._admin(req)
            else:
                self.faults.wait_if_paused()
                resp, route_name = self.answer(req)
        except ApiError as err:
            resp = err.response()
        except Exception as exc:
            log.error("stand-in: %s %s failed:\n%s", req.method, req.path, traceback.format_exc())
            resp = Response(500, error_body(500, "INTERNAL_ERROR", f"stand-in bug: {exc!r}"))
        self.request_log.append((req.method, req.path, resp.status))
        self.request_timings.append((req.method, req.path, time.perf_counter() - started))
        if len(self.request_log) > REQUEST_LOG_MAX:
            del self.request_log[: REQUEST_LOG_MAX // 2]
            del self.request_timings[: REQUEST_LOG_MAX // 2]
        self._write(h, resp, route_name)

    def _admin(self, req: Request) -> Response:
        route = _find(self.admin_routes, req)
        if route is None:
            raise ApiError(404, "UNKNOWN_ROUTE", f"no stand-in admin route {req.method} {req.path}")
        return _response(route.handler(req))

    def answer(self, req: Request) -> tuple[Response, str]:
        """A Globus API request's response, and the name of the route that gave it: an
        injected fault, else the route's answer as shaped (strict mode, omitted fields),
        else the loud 404 of a route the stand-in lacks."""
        route = _find(self.routes, req)
        if route is None:
            return self._unknown(req), "unknown"
        rule = self.faults.take(route.name, req.path)
        if rule is not None:
            resp = Response(rule.status, error_body(rule.status, rule.code, rule.message))
            if rule.retry_after is not None:
                resp.headers["Retry-After"] = str(rule.retry_after)
            log.warning("stand-in: injected %s for %s %s", rule.status, req.method, req.path)
            return resp, route.name
        return self.shaper.apply(route.name, _response(route.handler(req))), route.name

    def _unknown(self, req: Request) -> Response:
        what = f"{req.method} {req.path}"
        self.unknown_routes.append(what)
        log.error("stand-in: UNKNOWN ROUTE %s -- not implemented by the chiltepin stand-in", what)
        print(f"[chiltepin stand-in] UNKNOWN ROUTE {what} (answered 404)", file=sys.stderr)
        return Response(
            404,
            error_body(
                404,
                "UNKNOWN_ROUTE",
                f"The chiltepin Globus stand-in does not implement {what}; this is a"
                " local test service, not Globus. Add the route to chiltepin.testing.",
            ),
        )

    def _write(self, h: _Handler, resp: Response, route_name: str) -> None:
        payload = json.dumps(resp.body).encode()
        try:
            h.send_response(resp.status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.send_header(STAND_IN_HEADER, "true")
            for k, v in resp.headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("stand-in: client went away during %s", route_name)
