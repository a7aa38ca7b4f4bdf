"""``GlobusStandIn``: the local Globus stand-in (HTTP service + AMQP bridge + RabbitMQ).

It listens on 127.0.0.1 only, port 5000 by default because the SDK's and the endpoint's
``local`` environment hard-wire ``http://localhost:5000``; on any other port (what the
offline session and the tests use, so sessions run side by side) processes reach it through
``CHILTEPIN_COMPUTE_URL`` (``chiltepin.upstream.compute_url``).  Every response carries
``X-Chiltepin-Stand-In: true`` and a banner is printed on start: nobody should mistake it
for Globus.  Unknown routes answer 404 with a body naming the route, and are logged loudly
and remembered (``unknown_routes``) so a new SDK version that calls something new is
noticed at once.

Run ``python -m chiltepin.testing.server --port 5000 --state-dir DIR`` for a foreground
service (``chiltepin testing up`` starts that detached).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chiltepin.errors import ChiltepinError
from chiltepin.system import processes
from chiltepin.system.waiting import wait_until
from chiltepin.testing.amqp import AmqpBridge, queue_names
from chiltepin.testing.auth_api import AuthApi
from chiltepin.testing.collections import Collection, CollectionStore, CorruptRule
from chiltepin.testing.compute_api import ComputeApi, ComputeSettings
from chiltepin.testing.environment import (
    STANDIN_CLIENT_ID,
    STANDIN_CLIENT_SECRET,
    client_env,
)
from chiltepin.testing.faults import FailRule, Faults, error_body
from chiltepin.testing.rabbitmq import RabbitMQ
from chiltepin.testing.routing import ApiError, Request, Response, Route
from chiltepin.testing.shaping import Shaper, strict_from_env
from chiltepin.testing.state import EndpointRecord, StandInState, TaskRecord
from chiltepin.testing.transfer_api import TransferApi
from chiltepin.testing.transfer_tasks import TaskRunner

log = logging.getLogger("chiltepin.testing")

STAND_IN_HEADER = "X-Chiltepin-Stand-In"
BANNER = """\
======================================================================================
  chiltepin LOCAL GLOBUS STAND-IN -- for offline tests and development only.
  This is NOT Globus: no real endpoint, identity or data is involved.
  Compute + Auth + Transfer API: {url}    AMQP: {amqp}
======================================================================================"""


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
    standin: GlobusStandIn


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: headers and body go out as two writes; with Nagle on, the body waits
    # for the client's delayed ACK and every keep-alive request costs ~40 ms.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def _handle(self) -> None:
        self.server.standin._dispatch(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("stand-in http: " + format, *args)


class GlobusStandIn:
    """A local stand-in for the Globus Compute web service and Globus Auth.

    >>> with GlobusStandIn() as standin:              # doctest: +SKIP
    ...     os.environ.update(standin.client_env())
    ...     Client().version_check()
    """

    def __init__(
        self,
        port: int = 5000,
        *,
        host: str = "127.0.0.1",
        rabbitmq_url: str | None = None,
        state_dir: str | Path | None = None,
        client_id: str = STANDIN_CLIENT_ID,
        client_secret: str = STANDIN_CLIENT_SECRET,
        check_client_secret: bool = False,
        validate_user_options: bool = False,
        heartbeat_grace: float = 2.5,
        offline_after_s: float | None = None,
        queue_prefix: str = "standin_tg_",
        banner: bool = True,
        compute: bool = True,
        strict: bool | None = None,
    ) -> None:
        if host not in ("127.0.0.1", "localhost"):
            raise StandInError(f"the stand-in only listens on loopback, not {host!r}")
        self.host = "127.0.0.1"
        self.port = port
        self.state_dir = Path(state_dir) if state_dir else None
        self.client_id = client_id
        self.client_secret = client_secret
        self.banner = banner
        self.rabbitmq = (
            RabbitMQ.external(rabbitmq_url)
            if rabbitmq_url
            else RabbitMQ(self.state_dir / "rabbitmq" if self.state_dir else None)
        )
        self.state = StandInState()
        self.faults = Faults()
        self.auth = AuthApi(client_id, client_secret, check_secret=check_client_secret)
        self._settings = ComputeSettings(
            amqp_url="",
            queue_prefix=queue_prefix,
            validate_user_options=validate_user_options,
            heartbeat_grace=heartbeat_grace,
            offline_after_s=offline_after_s,
        )
        self.compute = ComputeApi(self.state, self.auth, self._settings)
        self.bridge: AmqpBridge | None = None
        self.with_compute = compute
        """False: Auth + Transfer only, no RabbitMQ (Compute routes then answer 503)."""
        self.collections = CollectionStore(
            self.state_dir / "collections" if self.state_dir else None
        )
        self.transfer = TransferApi(self.collections, self.auth, TaskRunner(self.collections))
        self._routes: list[Route] = (
            self.compute.routes() + self.auth.routes() + self.transfer.routes()
        )
        self.shaper = Shaper(self._routes, strict_from_env() if strict is None else strict)
        """Strict fixture mode (``strict``, default from ``CHILTEPIN_STANDIN_STRICT``): every
        route with Globus example responses answers with exactly their keys (see
        ``chiltepin.testing.shaping``); ``omit_fields`` drops single fields."""
        self._httpd: _HTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self.unknown_routes: list[str] = []
        self.home: Path | None = None  # set by the pytest plugin: the tests' HOME
        self.user_dir: Path | None = None  # ... and their GLOBUS_COMPUTE_USER_DIR
        self.request_log: list[tuple[str, str, int]] = []
        self.request_timings: list[tuple[str, str, float]] = []  # seconds spent answering

    # -- lifecycle --------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL of the HTTP service (loopback IPv4)."""
        return f"http://{self.host}:{self.port}"

    @property
    def amqp_url(self) -> str:
        return self.rabbitmq.url

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> GlobusStandIn:
        check_port_free(self.host, self.port)
        try:
            if self.with_compute:
                self.rabbitmq.start()
                self._settings.amqp_url = self.rabbitmq.url
                self.bridge = AmqpBridge(
                    self.rabbitmq.url,
                    on_result=self.compute.handle_result,
                    on_heartbeat=self.compute.handle_heartbeat,
                )
                self.bridge.start()
                self.compute.bridge = self.bridge
            httpd = _HTTPServer((self.host, self.port), _Handler)
            httpd.standin = self
            self._httpd = httpd
            self._http_thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.2},
                name="standin-http",
                daemon=True,
            )
            self._http_thread.start()
        except BaseException:
            self.stop()
            raise
        if self.banner:
            amqp = self.rabbitmq.url if self.with_compute else "none (compute=False)"
            print(BANNER.format(url=self.url, amqp=amqp), file=sys.stderr)
        return self

    def stop(self) -> None:
        self.transfer.cancel_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._http_thread is not None:
            self._http_thread.join(5)
            self._http_thread = None
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge = None
            self.compute.bridge = None
        self.rabbitmq.stop()
        if self.state_dir is None:
            self.rabbitmq.cleanup_dir()
            self.collections.cleanup()

    def __enter__(self) -> GlobusStandIn:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- environment ------------------------------------------------------------------
    def client_env(self) -> dict[str, str]:
        """Variables that point the SDK and the endpoint at this stand-in (see environment)."""
        return client_env(
            self.url,
            client_id=self.client_id,
            client_secret=self.client_secret,
            compute=self.with_compute,
        )

    def sdk_client(self, **kwargs: Any) -> Any:
        """A real ``globus_compute_sdk.Client`` bound to this stand-in (any port).

        Uses the client credentials from ``client_env()``, which must be applied to
        ``os.environ`` (the SDK reads them there).
        """
        from globus_compute_sdk import Client

        from chiltepin.upstream.sdk import rebase_client

        kwargs.setdefault("do_version_check", False)
        check = kwargs.pop("do_version_check")
        client = Client(local_compute_services=True, do_version_check=False, **kwargs)
        if self.port != 5000:
            rebase_client(client, self.url)
        if check:
            client.version_check()
        return client

    def routes(self) -> list[str]:
        """Route names usable with ``fail_next``."""
        return [r.name for r in self._routes]

    # -- fault injection --------------------------------------------------------------
    def fail_next(
        self,
        route: str,
        count: int = 1,
        *,
        status: int = 500,
        code: str | None = None,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> FailRule:
        """Make the next ``count`` requests to ``route`` fail (see ``Faults.fail_next``)."""
        if route != "*" and not route.startswith("/"):
            self._check_route(route, " or a path")
        return self.faults.fail_next(
            route, count, status=status, code=code, message=message, retry_after=retry_after
        )

    def limit_rate(self, route: str = "submit", requests: int = 20, window: float = 10.0) -> None:
        """Answer 429 past ``requests`` per ``window`` seconds on ``route`` (the service's
        published limit by default; see ``Faults.limit_rate``)."""
        self._check_route(route)
        self.faults.limit_rate(route, requests, window)

    def _check_route(self, route: str, alternatives: str = "") -> None:
        names = self.routes()
        if route not in names:
            raise ValueError(f"unknown route {route!r}; choose from {sorted(names)}{alternatives}")

    def pause(self, seconds: float) -> None:
        """Stop answering (all non-admin) HTTP requests for ``seconds``."""
        self.faults.pause(seconds)

    def resume(self) -> None:
        self.faults.resume()

    def omit_fields(self, route: str, *fields: str) -> None:
        """Leave ``fields`` out of ``route``'s answers, as a service that does not send them
        would (until ``clear_faults``): ``omit_fields("endpoint_status", "details.managers")``."""
        self._check_route(route)
        self.shaper.omit(route, *fields)

    def clear_faults(self) -> None:
        """Drop pending failure rules, pauses and omitted fields, and every forced-offline
        flag."""
        self.faults.clear()
        self.shaper.clear()
        self.collections.clear_faults()
        with self.state.lock:
            for ep in self.state.endpoints.values():
                ep.forced_offline = ep.forced_stop = False

    def set_offline(
        self, endpoint_id: str, offline: bool = True, *, announced: bool = False
    ) -> None:
        """Make an endpoint appear offline in the status API (or clear that); with
        ``announced``, as after its last heartbeat said it was shutting down
        (``heartbeat_period: 0``), while in fact it runs on: a stop that is undone (an
        endpoint restarted with its tasks still queued) looks so to a client."""
        with self.state.lock:
            ep = self.state.endpoints.get(str(endpoint_id))
            if ep is None:
                raise KeyError(f"unknown endpoint {endpoint_id}")
            ep.forced_offline = offline
            ep.forced_stop = offline and announced

    def drop_queues(
        self,
        endpoint_id: str,
        queues: tuple[str, ...] = ("tasks", "results", "heartbeats"),
    ) -> list[str]:
        """Delete an endpoint's AMQP queues (``tasks``/``results``/``heartbeats``/``commands``).

        The endpoint's consumers are cancelled by the broker, as when the service drops a
        connection; queued tasks are lost with the queue.
        """
        names = queue_names(str(endpoint_id))
        unknown = set(queues) - set(names)
        if unknown:
            raise ValueError(f"unknown queue kinds {sorted(unknown)}; choose from {list(names)}")
        assert self.bridge is not None, "stand-in not running"
        return self.bridge.delete_queues([names[q] for q in queues])

    # -- Transfer collections and their faults ----------------------------------------
    def add_collection(
        self,
        display_name: str,
        *,
        root: str | Path | None = None,
        mapped: bool = False,
        requires_consent: bool = False,
        collection_id: str | None = None,
    ) -> str:
        """Create a stand-in Transfer collection backed by a directory; return its UUID.

        ``root`` defaults to ``<state dir>/collections/<uuid>``. ``mapped`` makes it look
        like a GCSv5 mapped collection; ``requires_consent`` makes every request touching
        it answer 403 ``ConsentRequired`` unless the caller's token was issued with this
        collection's ``data_access`` dependent scope (as ``chiltepin login --collection``
        or ``chiltepin.auth.transfer_client([uuid])`` ask for).
        """
        return self.collections.add(
            display_name,
            root=root,
            mapped=mapped,
            requires_consent=requires_consent,
            collection_id=collection_id,
        ).id

    def collection(self, collection_id: str) -> Collection:
        coll = self.collections.find(collection_id)
        if coll is None:
            raise KeyError(f"unknown stand-in collection {collection_id}")
        return coll

    def collection_path(self, collection_id: str, path: str = "/") -> Path:
        """The local file behind ``path`` on a stand-in collection (to seed or check data)."""
        return self.collection(collection_id).local(path)

    def deny_path(self, collection_id: str, path: str) -> None:
        """Fault: PERMISSION_DENIED for ``path`` and everything under it on a collection."""
        coll = self.collection(collection_id)
        coll.denied.append(coll.normalise(path))

    def require_consent(self, collection_id: str, required: bool = True) -> None:
        """Fault: the collection needs ``data_access`` consent (403 ConsentRequired)."""
        self.collection(collection_id).requires_consent = required

    def slow_transfers(
        self,
        collection_id: str,
        *,
        bytes_per_s: float | None = None,
        item_delay_s: float = 0.0,
    ) -> None:
        """Fault: throttle copies to/from a collection, and/or wait before each file."""
        coll = self.collection(collection_id)
        coll.bytes_per_s = bytes_per_s
        coll.item_delay_s = item_delay_s

    def corrupt_destination(
        self, collection_id: str, pattern: str = "*", *, times: int | None = None
    ) -> CorruptRule:
        """Fault: flip a byte of files written to the collection whose path matches
        ``pattern`` (glob or path prefix), ``times`` times or always; checksum
        verification then fails and the service retries, then fails the task."""
        rule = CorruptRule(pattern, times)
        self.collection(collection_id).corrupt.append(rule)
        return rule

    def transfer_task(self, task_id: str) -> dict[str, Any]:
        """The stand-in's own view of a Transfer task (its ``GET /task/{id}`` document)."""
        with self.transfer.lock:
            task = self.transfer.tasks[str(task_id)]
        return task.doc()

    def transfer_tasks(self) -> list[dict[str, Any]]:
        with self.transfer.lock:
            tasks = list(self.transfer.tasks.values())
        return [t.doc() for t in tasks]

    def transfer_requests(self) -> list[tuple[str, str, int]]:
        """The Transfer API requests answered so far (method, path, status)."""
        return [r for r in list(self.request_log) if r[1].startswith("/v0.10/")]

    # -- observation ------------------------------------------------------------------
    def endpoint(self, endpoint_id: str) -> EndpointRecord:
        with self.state.lock:
            return self.state.endpoints[str(endpoint_id)]

    def endpoint_online(self, endpoint_id: str) -> bool:
        with self.state.lock:
            ep = self.state.endpoints.get(str(endpoint_id))
            return ep is not None and self.compute.is_online(ep)

    def wait_for_endpoint(
        self, endpoint_id: str | None = None, *, name: str | None = None, timeout: float = 60
    ) -> EndpointRecord:
        """Wait until an endpoint (by id or registered name) is online; return its record."""

        def online() -> EndpointRecord | None:
            with self.state.lock:
                for ep in self.state.endpoints.values():
                    hit = ep.endpoint_id == endpoint_id or (name and ep.name == name)
                    if hit and self.compute.is_online(ep):
                        return ep
            return None

        return wait_until(online, timeout, what=f"endpoint {endpoint_id or name} online")

    def user_endpoints(self, parent_id: str) -> list[EndpointRecord]:
        return self.state.user_endpoints(str(parent_id))

    def task(self, task_id: str) -> TaskRecord:
        with self.state.lock:
            return self.state.tasks[str(task_id)]

    # -- HTTP dispatch ----------------------------------------------------------------
    def _admin(self, req: Request) -> Response:
        body = req.json() if req.method == "POST" else {}
        sub = req.path[len("/_standin/") :].strip("/")
        if req.method == "GET" and sub == "state":
            doc = self.state.summary()
            doc.update(url=self.url, amqp_url=self.amqp_url, stand_in=True)
            return Response(200, doc)
        if req.method == "GET" and sub == "unknown_routes":
            return Response(200, {"unknown_routes": self.unknown_routes})
        if sub.startswith("transfer/"):
            return self._transfer_admin(req.method, sub[len("transfer/") :], body)
        if req.method == "GET" and sub == "faults":
            return Response(200, {"pending": self.faults.pending(), "fired": self.faults.injected})
        if req.method == "POST" and sub == "faults/fail_next":
            rule = self.fail_next(
                body["route"],
                int(body.get("count", 1)),
                status=int(body.get("status", 500)),
                code=body.get("code"),
                message=body.get("message"),
                retry_after=body.get("retry_after"),
            )
            return Response(200, {"rule": vars(rule)})
        if req.method == "POST" and sub == "faults/pause":
            self.pause(float(body["seconds"]))
            return Response(200, {"paused_s": float(body["seconds"])})
        if req.method == "POST" and sub == "faults/resume":
            self.resume()
            return Response(200, {"paused_s": 0})
        if req.method == "POST" and sub == "faults/clear":
            self.clear_faults()
            return Response(200, {"cleared": True})
        if req.method == "POST" and sub == "faults/offline":
            offline = bool(body.get("offline", True))
            self.set_offline(body["endpoint_id"], offline)
            return Response(200, {"endpoint_id": body["endpoint_id"], "offline": offline})
        if req.method == "POST" and sub == "faults/drop_queues":
            kinds = tuple(body.get("queues") or ("tasks", "results", "heartbeats"))
            return Response(200, {"deleted": self.drop_queues(body["endpoint_id"], kinds)})
        raise ApiError(404, "UNKNOWN_ROUTE", f"no stand-in admin route {req.method} {req.path}")

    def _transfer_admin(self, method: str, sub: str, body: dict[str, Any]) -> Response:
        """``/_standin/transfer/...``: collections and Transfer faults for a detached
        stand-in (``chiltepin testing up``), the same switches as the Python API."""
        try:
            return self._transfer_admin_unchecked(method, sub, body)
        except (KeyError, ValueError) as exc:
            status = 404 if isinstance(exc, KeyError) else 400
            raise ApiError(status, "BAD_REQUEST", str(exc)) from exc

    def _transfer_admin_unchecked(self, method: str, sub: str, body: dict[str, Any]) -> Response:
        if method == "GET" and sub == "collections":
            docs = [c.doc() | {"root": str(c.root)} for c in self.collections.all()]
            return Response(200, {"collections": docs})
        if method == "GET" and sub == "tasks":
            return Response(200, {"tasks": self.transfer_tasks()})
        if method == "POST" and sub == "collections":
            cid = self.add_collection(
                body["display_name"],
                root=body.get("root"),
                mapped=bool(body.get("mapped", False)),
                requires_consent=bool(body.get("requires_consent", False)),
                collection_id=body.get("id"),
            )
            return Response(
                200, self.collection(cid).doc() | {"root": str(self.collection(cid).root)}
            )
        cid = str(body.get("collection", ""))
        if method == "POST" and sub == "faults/deny":
            self.deny_path(cid, body["path"])
        elif method == "POST" and sub == "faults/consent":
            self.require_consent(cid, bool(body.get("required", True)))
        elif method == "POST" and sub == "faults/slow":
            self.slow_transfers(
                cid,
                bytes_per_s=body.get("bytes_per_s"),
                item_delay_s=float(body.get("item_delay_s", 0.0)),
            )
        elif method == "POST" and sub == "faults/corrupt":
            self.corrupt_destination(cid, body.get("pattern", "*"), times=body.get("times"))
        else:
            raise ApiError(404, "UNKNOWN_ROUTE", f"no stand-in admin route {method} transfer/{sub}")
        return Response(200, {"collection": cid, "fault": sub.removeprefix("faults/")})

    def _dispatch(self, h: _Handler) -> None:
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
            if req.path.startswith("/_standin/"):
                resp = self._admin(req)
            else:
                self.faults.wait_if_paused()
                resp, route_name = self._route(req)
        except ApiError as err:
            resp = err.response()
        except Exception as exc:
            log.error("stand-in: %s %s failed:\n%s", req.method, req.path, traceback.format_exc())
            resp = Response(500, error_body(500, "INTERNAL_ERROR", f"stand-in bug: {exc!r}"))
        self.request_log.append((req.method, req.path, resp.status))
        self.request_timings.append((req.method, req.path, time.perf_counter() - started))
        if len(self.request_log) > 10000:
            del self.request_log[:5000]
            del self.request_timings[:5000]
        self._write(h, resp, route_name)

    def _route(self, req: Request) -> tuple[Response, str]:
        for route in self._routes:
            params = route.match(req.method, req.path)
            if params is None:
                continue
            req.params = params
            rule = self.faults.take(route.name, req.path)
            if rule is not None:
                resp = Response(rule.status, error_body(rule.status, rule.code, rule.message))
                if rule.retry_after is not None:
                    resp.headers["Retry-After"] = str(rule.retry_after)
                log.warning("stand-in: injected %s for %s %s", rule.status, req.method, req.path)
                return resp, route.name
            result = route.handler(req)
            resp = result if isinstance(result, Response) else Response(200, result)
            return self.shaper.apply(route.name, resp), route.name
        what = f"{req.method} {req.path}"
        self.unknown_routes.append(what)
        log.error("stand-in: UNKNOWN ROUTE %s -- not implemented by the chiltepin stand-in", what)
        print(f"[chiltepin stand-in] UNKNOWN ROUTE {what} (answered 404)", file=sys.stderr)
        return (
            Response(
                404,
                error_body(
                    404,
                    "UNKNOWN_ROUTE",
                    f"The chiltepin Globus stand-in does not implement {what}; this is a"
                    " local test service, not Globus. Add the route to chiltepin.testing.",
                ),
            ),
            "unknown",
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


# -- foreground service for `chiltepin testing up` ------------------------------------
def serve(port: int, state_dir: Path, rabbitmq_url: str | None = None) -> int:
    """Run until SIGTERM/SIGINT, keeping ``state_dir/standin.json`` up to date."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    state_dir.mkdir(parents=True, exist_ok=True)
    state_file = state_dir / "standin.json"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    standin = GlobusStandIn(port, state_dir=state_dir, rabbitmq_url=rabbitmq_url)
    try:
        standin.start()
    except Exception as exc:
        state_file.write_text(json.dumps({"ready": False, "error": str(exc), "pid": os.getpid()}))
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        state_file.write_text(
            json.dumps(
                {
                    "ready": True,
                    "stand_in": True,
                    "pid": os.getpid(),
                    "pgid": os.getpgid(0),
                    "url": standin.url,
                    "amqp_url": standin.amqp_url,
                    "rabbitmq_pids": standin.rabbitmq.pids(),
                    "rabbitmq_dir": str(standin.rabbitmq.base_dir or ""),
                    "env": standin.client_env(),
                    "started_at": time.time(),
                },
                indent=2,
            )
        )
        while not stop.wait(0.5):
            pass
    finally:
        standin.stop()
        with contextlib.suppress(OSError):
            state_file.unlink()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="chiltepin local Globus stand-in (not Globus)")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--rabbitmq-url", default=None)
    args = parser.parse_args(argv)
    return serve(args.port, args.state_dir, args.rabbitmq_url)


if __name__ == "__main__":
    sys.exit(main())
