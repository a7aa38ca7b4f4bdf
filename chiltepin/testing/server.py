"""``GlobusStandIn``: the local Globus stand-in (HTTP service + AMQP bridge + RabbitMQ).

It listens on 127.0.0.1 only, port 5000 by default because the SDK's and the endpoint's
``local`` environment hard-wire ``http://localhost:5000``; on any other port (what the
offline session and the tests use, so sessions run side by side) processes reach it through
``CHILTEPIN_COMPUTE_URL`` (``chiltepin.upstream.compute_url``).  Every response carries
``X-Chiltepin-Stand-In: true`` and a banner is printed on start: nobody should mistake it
for Globus.

This module is the stand-in as tests and the CLI hold it: its parts (state, the Compute,
Auth, Transfer and admin route tables, the broker and its bridge), its lifecycle, and the
controls tests use (faults, offline endpoints, collections) and what they observe. The
HTTP side is :mod:`chiltepin.testing.transport`; ``chiltepin testing up`` runs a stand-in
detached (``chiltepin testing serve`` in the foreground).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from chiltepin.client.limits import REQUESTS_PER_WINDOW, WINDOW_SECONDS
from chiltepin.system.waiting import wait_until
from chiltepin.testing.admin_api import AdminApi
from chiltepin.testing.amqp import AmqpBridge, queue_names
from chiltepin.testing.auth_api import AuthApi
from chiltepin.testing.collections import Collection, CollectionStore, CorruptRule
from chiltepin.testing.compute_api import ComputeApi
from chiltepin.testing.compute_endpoints import ComputeSettings
from chiltepin.testing.environment import (
    STANDIN_CLIENT_ID,
    STANDIN_CLIENT_SECRET,
    client_env,
)
from chiltepin.testing.faults import FailRule, Faults
from chiltepin.testing.rabbitmq import RabbitMQ
from chiltepin.testing.shaping import Shaper, strict_from_env
from chiltepin.testing.state import EndpointRecord, StandInState, StandInTask
from chiltepin.testing.transfer_api import TransferApi
from chiltepin.testing.transfer_runner import TaskRunner
from chiltepin.testing.transport import HttpTransport, StandInError, check_port_free

__all__ = ["GlobusStandIn", "StandInError"]

log = logging.getLogger("chiltepin.testing")

BANNER = """\
======================================================================================
  chiltepin LOCAL GLOBUS STAND-IN -- for offline tests and development only.
  This is NOT Globus: no real endpoint, identity or data is involved.
  Compute + Auth + Transfer API: {url}    AMQP: {amqp}
======================================================================================"""


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
        routes = self.compute.routes() + self.auth.routes() + self.transfer.routes()
        self.shaper = Shaper(routes, strict_from_env() if strict is None else strict)
        """Strict fixture mode (``strict``, default from ``CHILTEPIN_STANDIN_STRICT``): every
        route with Globus example responses answers with exactly their keys (see
        ``chiltepin.testing.shaping``); ``omit_fields`` drops single fields."""
        self.http = HttpTransport(
            routes=routes,
            admin_routes=AdminApi(self).routes(),
            faults=self.faults,
            shaper=self.shaper,
        )
        self.home: Path | None = None  # set by the pytest plugin: the tests' HOME
        self.user_dir: Path | None = None  # ... and their GLOBUS_COMPUTE_USER_DIR

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
        return self.http.running

    @property
    def unknown_routes(self) -> list[str]:
        """Globus API requests no route answered (``METHOD path``), in order."""
        return self.http.unknown_routes

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        """The requests answered so far (method, path, status), the most recent 5,000+."""
        return self.http.request_log

    @property
    def request_timings(self) -> list[tuple[str, str, float]]:
        """Per request logged, the seconds spent answering it."""
        return self.http.request_timings

    def start(self) -> GlobusStandIn:
        check_port_free(self.host, self.port)
        try:
            if self.with_compute:
                self.rabbitmq.start()
                self._settings.amqp_url = self.rabbitmq.url
                self.bridge = AmqpBridge(
                    self.rabbitmq.url,
                    on_result=self.compute.handle_result,
                    on_heartbeat=self.compute.endpoints.handle_heartbeat,
                )
                self.bridge.start()
                self.compute.bridge = self.bridge
            self.http.start(self.host, self.port)
        except BaseException:
            self.stop()
            raise
        if self.banner:
            amqp = self.rabbitmq.url if self.with_compute else "none (compute=False)"
            print(BANNER.format(url=self.url, amqp=amqp), file=sys.stderr)
        return self

    def stop(self) -> None:
        self.transfer.cancel_all()
        self.http.stop()
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
        return [r.name for r in self.http.routes]

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

    def limit_rate(
        self,
        route: str = "submit",
        requests: int = REQUESTS_PER_WINDOW,
        window: float = WINDOW_SECONDS,
    ) -> None:
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
            return ep is not None and self.compute.endpoints.is_online(ep)

    def wait_for_endpoint(
        self, endpoint_id: str | None = None, *, name: str | None = None, timeout: float = 60
    ) -> EndpointRecord:
        """Wait until an endpoint (by id or registered name) is online; return its record."""

        def online() -> EndpointRecord | None:
            with self.state.lock:
                for ep in self.state.endpoints.values():
                    hit = ep.endpoint_id == endpoint_id or (name and ep.name == name)
                    if hit and self.compute.endpoints.is_online(ep):
                        return ep
            return None

        return wait_until(online, timeout, what=f"endpoint {endpoint_id or name} online")

    def user_endpoints(self, parent_id: str) -> list[EndpointRecord]:
        return self.state.user_endpoints(str(parent_id))

    def task(self, task_id: str) -> StandInTask:
        with self.state.lock:
            return self.state.tasks[str(task_id)]
