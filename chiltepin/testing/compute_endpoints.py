"""The Globus Compute web API's endpoint half, and what the cloud does for endpoints.

Registration (single-user and template-capable endpoints: their AMQP queues), the
endpoint documents and status (liveness from heartbeats, capacity, ``node_info``), the
allow-list an endpoint registered, and user endpoints: one per parent, user and canonical
``user_endpoint_config``, started by a ``cmd_start_endpoint`` command on the parent's
queue; a start the parent reports as failed fails the user endpoint's waiting tasks.
The task half (functions, submit, task status, result relay) is
:mod:`chiltepin.testing.compute_api`, which serves both.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from globus_compute_common import messagepack
from globus_compute_common.messagepack.message_types import (
    EPStatusReport,
    Result,
    ResultErrorDetails,
)

from chiltepin.testing.amqp import (
    HEARTBEATS_EXCHANGE,
    RESULTS_EXCHANGE,
    TASKS_EXCHANGE,
    AmqpBridge,
    queue_names,
)
from chiltepin.testing.auth_api import AuthApi
from chiltepin.testing.routing import ApiError, Request, Route
from chiltepin.testing.state import (
    FAILED,
    WAITING,
    EndpointRecord,
    StandInState,
    StandInTask,
    canonical_json,
    user_endpoint_id,
)

log = logging.getLogger("chiltepin.testing")

START_FAILURE_CODE = "USER_ENDPOINT_START_FAILED"
CAPACITY_KEYS = ("total_workers", "idle_workers", "pending_tasks", "outstanding_tasks", "managers")
"""The status ``details`` Globus's example shows (``compute.v2.get_endpoint_status``)."""


@dataclass
class ComputeSettings:
    amqp_url: str
    queue_prefix: str = "standin_tg_"
    validate_user_options: bool = False
    """Check ``user_endpoint_config`` against the endpoint's schema at submit (answer 400).

    Off by default: then, like the service, options are forwarded and the endpoint's own
    schema check decides (its rejection reaches the submitter's futures)."""
    heartbeat_grace: float = 2.5
    """An endpoint is offline after ``heartbeat_grace`` heartbeat periods without one."""
    offline_after_s: float | None = None
    """Absolute missed-heartbeat window; overrides ``heartbeat_grace`` when set."""


def parse_uuid(value: str, what: str) -> str:
    """``value`` as a canonical UUID; 400 ``INVALID_UUID`` naming ``what`` if it is none."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise ApiError(400, "INVALID_UUID", f"{what} is not a valid UUID: {value!r}") from exc


def connected(bridge: AmqpBridge | None) -> AmqpBridge:
    """The AMQP bridge; 503 while the stand-in has none (``compute=False``, or starting)."""
    if bridge is None:
        raise ApiError(503, "SERVICE_UNAVAILABLE", "stand-in AMQP bridge not connected")
    return bridge


class EndpointsApi:
    def __init__(self, state: StandInState, auth: AuthApi, settings: ComputeSettings) -> None:
        self.state = state
        self.auth = auth
        self.settings = settings
        self.bridge: AmqpBridge | None = None  # set by ComputeApi once connected

    def routes(self) -> list[Route]:
        return [
            Route("register_endpoint", "POST", "/v3/endpoints", self.register_endpoint),
            Route("register_endpoint_v2", "POST", "/v2/endpoints", self.register_endpoint),
            Route("update_endpoint", "PUT", "/v3/endpoints/{endpoint_id}", self.update_endpoint),
            Route("list_endpoints", "GET", "/v2/endpoints", self.list_endpoints),
            Route("get_endpoint", "GET", "/v2/endpoints/{endpoint_id}", self.get_endpoint),
            Route("get_endpoint_v3", "GET", "/v3/endpoints/{endpoint_id}", self.get_endpoint),
            Route("endpoint_status", "GET", "/v2/endpoints/{endpoint_id}/status", self.status),
            Route("endpoint_status_v3", "GET", "/v3/endpoints/{endpoint_id}/status", self.status),
            Route("delete_endpoint", "DELETE", "/v2/endpoints/{endpoint_id}", self.delete_ep),
            Route("delete_endpoint_v3", "DELETE", "/v3/endpoints/{endpoint_id}", self.delete_ep),
            Route("lock_endpoint", "POST", "/v2/endpoints/{endpoint_id}/lock", self.lock),
            Route("lock_endpoint_v3", "POST", "/v3/endpoints/{endpoint_id}/lock", self.lock),
            Route(
                "allowed_functions",
                "GET",
                "/v3/endpoints/{endpoint_id}/allowed_functions",
                self.allowed_functions,
            ),
        ]

    def endpoint(self, endpoint_id: str) -> EndpointRecord:
        """The endpoint record; 404 ``ENDPOINT_NOT_FOUND`` if the stand-in has none."""
        ep_id = parse_uuid(endpoint_id, "endpoint id")
        with self.state.lock:
            ep = self.state.endpoints.get(ep_id)
        if ep is None:
            raise ApiError(404, "ENDPOINT_NOT_FOUND", f"Endpoint {ep_id} could not be found", ep_id)
        return ep

    def is_online(self, ep: EndpointRecord, now: float | None = None) -> bool:
        if ep.forced_offline or ep.stopping or ep.last_heartbeat is None:
            return False
        window = self.settings.offline_after_s
        if window is None:
            window = self.settings.heartbeat_grace * max(ep.heartbeat_period, 1.0)
        return (now or time.monotonic()) - ep.last_heartbeat <= window

    def _queue_info(self, endpoint_id: str) -> dict[str, Any]:
        names = queue_names(endpoint_id)
        url = self.settings.amqp_url
        persistent = {"delivery_mode": 2}
        return {
            "task_queue_info": {
                "connection_url": url,
                "exchange": TASKS_EXCHANGE,
                "queue": names["tasks"],
            },
            "result_queue_info": {
                "connection_url": url,
                "exchange": RESULTS_EXCHANGE,
                "queue": names["results"],
                "queue_publish_kwargs": {
                    "exchange": RESULTS_EXCHANGE,
                    "routing_key": names["results"],
                    "mandatory": True,
                    "properties": persistent,
                },
            },
            "heartbeat_queue_info": {
                "connection_url": url,
                "exchange": HEARTBEATS_EXCHANGE,
                "queue": names["heartbeats"],
                "queue_publish_kwargs": {
                    "exchange": HEARTBEATS_EXCHANGE,
                    "routing_key": names["heartbeats"],
                    "mandatory": True,
                    "properties": persistent,
                },
            },
            "command_queue_info": {"connection_url": url, "queue": names["commands"]},
        }

    def amqp_creds(self, endpoint_id: str) -> dict[str, Any]:
        """What a single-user (or user) endpoint needs: its task/result/heartbeat queues."""
        info = self._queue_info(endpoint_id)
        return {
            "endpoint_id": endpoint_id,
            "task_queue_info": info["task_queue_info"],
            "result_queue_info": info["result_queue_info"],
            "heartbeat_queue_info": info["heartbeat_queue_info"],
        }

    # -- registration and documents ----------------------------------------------------
    def register_endpoint(self, req: Request) -> Any:
        return self._register(req, None)

    def update_endpoint(self, req: Request) -> Any:
        return self._register(req, parse_uuid(req.params["endpoint_id"], "endpoint id"))

    def _register(self, req: Request, endpoint_id: str | None) -> Any:
        body = req.json()
        if not isinstance(body, dict) or not body.get("endpoint_name"):
            raise ApiError(400, "BAD_REQUEST", "endpoint registration needs 'endpoint_name'")
        metadata = body.get("metadata") or {}
        template_capable = bool(body.get("multi_user")) or "user_config_template" in metadata
        owner = self.auth.identities_for(req)[0].sub
        ep_id = endpoint_id or str(uuid.uuid4())
        with self.state.lock:
            ep = self.state.endpoints.get(ep_id)
            if ep is not None and ep.parent_id is not None:
                raise ApiError(
                    409, "ENDPOINT_ALREADY_REGISTERED", f"{ep_id} is a user endpoint", ep_id
                )
            if ep is None:
                ep = EndpointRecord(ep_id, body["endpoint_name"], owner)
                self.state.endpoints[ep_id] = ep
            ep.name = body["endpoint_name"]
            ep.display_name = body.get("display_name")
            ep.metadata = metadata
            ep.multi_user = bool(body.get("multi_user"))
            ep.template_capable = template_capable
            ep.stopping = False
            ep.registered_at = time.time()
            ep.allowed_functions = body.get("allowed_functions")
            ep.subscription_id = body.get("subscription_id")
        connected(self.bridge).declare_endpoint(ep_id, template_capable=template_capable)
        log.info(
            "stand-in: registered %s endpoint %s (%s)",
            "template-capable" if template_capable else "single-user",
            ep_id,
            ep.name,
        )
        info = self._queue_info(ep_id)
        doc: dict[str, Any] = {"endpoint_id": ep_id, "warnings": [], "stand_in": True}
        if template_capable:
            doc["command_queue_info"] = info["command_queue_info"]
            doc["heartbeat_queue_info"] = info["heartbeat_queue_info"]
        else:
            doc.update(self.amqp_creds(ep_id))
        return doc

    def _endpoint_doc(self, ep: EndpointRecord) -> dict[str, Any]:
        md = ep.metadata
        return {
            "uuid": ep.endpoint_id,
            "name": ep.name,
            "display_name": ep.display_name or ep.name,
            "owner": ep.owner,
            "multi_user": ep.multi_user,
            "template_capable": ep.template_capable,
            "public": False,
            "endpoint_config": md.get("endpoint_config", ""),
            "user_config_template": md.get("user_config_template", ""),
            "user_config_schema": md.get("user_config_schema") or {},
            "description": "",
            "hostname": md.get("hostname"),
            "local_user": md.get("local_user"),
            "ip_address": "127.0.0.1",
            "endpoint_version": md.get("endpoint_version"),
            "sdk_version": md.get("sdk_version"),
            "subscription_uuid": ep.subscription_id,
            "parent_endpoint_id": ep.parent_id,
            "user_endpoint_config": ep.user_opts,
            "stand_in": True,
        }

    def list_endpoints(self, req: Request) -> Any:
        with self.state.lock:
            eps = [e for e in self.state.endpoints.values() if e.parent_id is None]
        return [
            {
                "uuid": e.endpoint_id,
                "name": e.name,
                "display_name": e.display_name or e.name,
                "owner": e.owner,
            }
            for e in eps
        ]

    def get_endpoint(self, req: Request) -> Any:
        return self._endpoint_doc(self.endpoint(req.params["endpoint_id"]))

    def _capacity(self, ep: EndpointRecord) -> dict[str, int]:
        """The example's worker and task counts: an endpoint's own last report; for a
        template-capable endpoint (whose own reports carry none), the sum over its online
        user endpoints. That sum is this stand-in's guess: Globus documents no parent
        aggregate, so chiltepin reads counts from the user endpoint itself."""
        if ep.template_capable:
            children = self.state.user_endpoints(ep.endpoint_id)
            reports = [c.last_report for c in children if self.is_online(c)]
        else:
            reports = [ep.last_report]
        return {
            k: sum(int(r[k]) for r in reports if isinstance(r.get(k), (int, float)))
            for k in CAPACITY_KEYS
        }

    def _node_info(self, ep: EndpointRecord) -> dict[str, Any]:
        """Per batch job, the managers' versions and workers as the engine reports them
        (``GlobusComputeEngine.get_status_report``: ``python_version``, ``sdk_version``,
        ``endpoint_version``, ``parsl_version``, ``worker_count``, ``idle_duration``),
        relayed unchanged; under a template-capable endpoint, its online user endpoints'
        (like the counts: no Globus example shows this field, strict mode drops it)."""
        if ep.template_capable:
            children = self.state.user_endpoints(ep.endpoint_id)
            reports = [c.last_report for c in children if self.is_online(c)]
        else:
            reports = [ep.last_report]
        merged: dict[str, Any] = {}
        for report in reports:
            info = report.get("node_info")
            if isinstance(info, dict):
                merged.update(info)
        return merged

    def status(self, req: Request) -> Any:
        ep = self.endpoint(req.params["endpoint_id"])
        online = self.is_online(ep)
        details: dict[str, Any] = {
            k: v
            for k, v in ep.last_report.items()
            if isinstance(v, (int, float, str, bool)) or v is None
        }
        details.update(self._capacity(ep))
        node_info = self._node_info(ep)
        if node_info:
            details["node_info"] = node_info
        details["stand_in"] = True
        if ep.last_heartbeat is not None:
            details["seconds_since_heartbeat"] = round(time.monotonic() - ep.last_heartbeat, 3)
        if ep.forced_offline:
            details["forced_offline"] = True
        if ep.forced_stop:
            details["heartbeat_period"] = 0  # what the endpoint's last heartbeat says
        if ep.start_error:
            details["start_error"] = ep.start_error
        return {"status": "online" if online else "offline", "details": details}

    def delete_ep(self, req: Request) -> Any:
        ep = self.endpoint(req.params["endpoint_id"])
        with self.state.lock:
            self.state.endpoints.pop(ep.endpoint_id, None)
            for child in self.state.user_endpoints(ep.endpoint_id):
                self.state.endpoints.pop(child.endpoint_id, None)
        return {"result": 302}

    def lock(self, req: Request) -> Any:
        ep = self.endpoint(req.params["endpoint_id"])
        expires = datetime.fromtimestamp(time.time() + 300, tz=timezone.utc)
        return {
            "endpoint_id": ep.endpoint_id,
            "lock_expiration_timestamp": expires.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        }

    def allowed_functions(self, req: Request) -> Any:
        ep = self.endpoint(req.params["endpoint_id"])
        allowed = ep.allowed_functions
        return {
            "endpoint_id": ep.endpoint_id,
            "restricted": allowed is not None,
            "functions": list(allowed or []),
        }

    def check_user_options(self, ep: EndpointRecord, opts: dict[str, Any]) -> None:
        schema = ep.metadata.get("user_config_schema")
        if not schema:
            return
        import jsonschema

        try:
            jsonschema.validate(instance=opts, schema=schema)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "<root>"
            raise ApiError(
                400,
                "INVALID_USER_ENDPOINT_CONFIG",
                f"user_endpoint_config rejected by the schema of endpoint {ep.endpoint_id}"
                f" at {where}: {exc.message}",
            ) from exc

    def user_endpoint_for(
        self, parent: EndpointRecord, opts: dict[str, Any], identity: str
    ) -> tuple[EndpointRecord, bool]:
        uep_id = user_endpoint_id(parent.endpoint_id, identity, opts)
        with self.state.lock:
            uep = self.state.endpoints.get(uep_id)
            created = uep is None
            if uep is None:
                uep = EndpointRecord(
                    uep_id,
                    f"uep.{parent.endpoint_id}.{uep_id}",
                    identity,
                    parent_id=parent.endpoint_id,
                    user_opts=json.loads(canonical_json(opts)),
                )
                self.state.endpoints[uep_id] = uep
        if created:
            connected(self.bridge).declare_endpoint(uep_id, template_capable=False)
            log.info(
                "stand-in: new user endpoint %s under %s for %s",
                uep_id,
                parent.endpoint_id,
                canonical_json(opts),
            )
        return uep, created

    def send_start(
        self, parent: EndpointRecord, uep: EndpointRecord, req: Request, user_runtime: Any
    ) -> None:
        idents = self.auth.identities_for(req)
        command = {
            "command": "cmd_start_endpoint",
            "args": [],
            "kwargs": {
                "name": uep.name,
                "amqp_creds": self.amqp_creds(uep.endpoint_id),
                "user_opts": uep.user_opts or {},
                "user_runtime": user_runtime or {},
            },
            "globus_effective_identity": idents[0].sub,
            "globus_identity_set": [i.doc() for i in idents],
            "globus_username": idents[0].username,
        }
        with self.state.lock:
            uep.start_commands += 1
        connected(self.bridge).publish_command(
            queue_names(parent.endpoint_id)["commands"], json.dumps(command).encode()
        )

    # -- AMQP (run in the bridge's I/O thread) -------------------------------------------
    def handle_heartbeat(self, endpoint_id: str, props: Any, body: bytes) -> None:
        """An EPStatusReport from ``<ep>.heartbeats``: liveness, or a start-failure notice."""
        msg = messagepack.unpack(body)
        if not isinstance(msg, EPStatusReport):
            log.warning("stand-in: non-EPStatusReport on %s.heartbeats", endpoint_id)
            return
        gstate = dict(msg.global_state or {})
        with self.state.lock:
            ep = self.state.endpoints.get(endpoint_id)
            if ep is None:
                return
            if "error" in gstate and ep.template_capable:
                # Upstream quirk (4.19): when a user-endpoint start fails, the forked child
                # of the parent also exits through the parent's _SendMessageOnErrorExit and
                # reports "(SystemExit) 7x" on the *parent's* heartbeat queue.  The real
                # failure arrives on the user endpoint's queue; just record this one.
                log.warning("stand-in: endpoint %s reported: %s", endpoint_id, gstate["error"])
                ep.start_error = str(gstate["error"])
                return
            if "error" in gstate:
                ep.start_error = str(gstate["error"])
                pending = self.state.pending_tasks_for(endpoint_id)
            else:
                pending = []
                ep.last_report = gstate
                period = gstate.get("heartbeat_period")
                if period == 0 or gstate.get("active") is False:
                    ep.stopping = True  # the endpoint is shutting down right now
                else:
                    ep.stopping = False
                    ep.last_heartbeat = time.monotonic()
                    if isinstance(period, (int, float)) and period > 0:
                        ep.heartbeat_period = float(period)
        if "error" in gstate:
            self._fail_start(ep, str(gstate["error"]), pending)

    def _fail_start(self, ep: EndpointRecord, error: str, pending: list[StandInTask]) -> None:
        """The parent could not start this user endpoint: fail its waiting tasks, once."""
        log.error(
            "stand-in: endpoint %s reported a start failure (%d waiting tasks failed): %s",
            ep.endpoint_id,
            len(pending),
            error,
        )
        assert self.bridge is not None
        # the queued copies must not run later if a new start succeeds: purge them
        self.bridge.purge(queue_names(ep.endpoint_id)["tasks"])
        where = f" (user endpoint {ep.endpoint_id} of {ep.parent_id})" if ep.parent_id else ""
        text = f"The endpoint could not start{where}: {error}"
        for rec in pending:
            with self.state.lock:
                if rec.status != WAITING:
                    continue
                rec.status = FAILED
                rec.exception = text
                rec.completion_t = time.time()
            res = Result(
                task_id=uuid.UUID(rec.task_id),
                data=text,
                error_details=ResultErrorDetails(code=START_FAILURE_CODE, user_message=text),
            )
            self.bridge.publish_result(
                self.settings.queue_prefix + rec.task_group_id, messagepack.pack(res)
            )
