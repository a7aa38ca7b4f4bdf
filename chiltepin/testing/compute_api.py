"""The Globus Compute web API subset, and what the cloud does behind it.

Routes were found by grepping ``globus_sdk.services.compute`` (what the SDK can call) and
by running the real ``globus_compute_sdk`` Client/Executor and ``globus-compute-endpoint``
against the stand-in with unknown routes logged.  Behind the routes this module does the
service's AMQP work: user endpoints for template-capable endpoints (one per parent, user
and canonical ``user_endpoint_config``), ``cmd_start_endpoint`` commands, task routing,
result relay to task-group queues, liveness from heartbeats, and failing the tasks of a
user endpoint whose start the parent endpoint reported as failed.
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
    Task,
)

from chiltepin.client.limits import MAX_PAYLOAD_BYTES
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
    SUCCESS,
    WAITING,
    EndpointRecord,
    FunctionRecord,
    StandInState,
    StandInTask,
    TaskGroup,
    canonical_json,
    user_endpoint_id,
)

log = logging.getLogger("chiltepin.testing")

API_VERSION = "1.0.0"
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


def task_details(result: Result) -> dict[str, Any] | None:
    """A task's status ``details``: the endpoint's environment report, plus
    ``task_transitions`` (state -> epoch seconds) from the transitions the endpoint timed, as
    Globus's ``compute.v2.get_task`` example shows them."""
    details = dict(result.details or {})
    if result.task_statuses:
        details["task_transitions"] = {
            t.state.value: t.timestamp / 1e9 for t in result.task_statuses
        }
    return details or None


def _uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise ApiError(400, "INVALID_UUID", f"{what} is not a valid UUID: {value!r}") from exc


class ComputeApi:
    def __init__(self, state: StandInState, auth: AuthApi, settings: ComputeSettings) -> None:
        self.state = state
        self.auth = auth
        self.settings = settings
        self.bridge: AmqpBridge | None = None  # set by the server once connected

    # -- helpers ----------------------------------------------------------------------
    @property
    def _bridge(self) -> AmqpBridge:
        if self.bridge is None:
            raise ApiError(503, "SERVICE_UNAVAILABLE", "stand-in AMQP bridge not connected")
        return self.bridge

    def _endpoint(self, endpoint_id: str) -> EndpointRecord:
        ep_id = _uuid(endpoint_id, "endpoint id")
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

    # -- routes -----------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [
            Route("version", "GET", "/v2/version", self.version),
            Route("amqp_url", "GET", "/v2/get_amqp_result_connection_url", self.amqp_url),
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
            Route("register_function", "POST", "/v3/functions", self.register_function),
            Route("register_function_v2", "POST", "/v2/functions", self.register_function),
            Route("get_function", "GET", "/v2/functions/{function_id}", self.get_function),
            Route("get_function_v3", "GET", "/v3/functions/{function_id}", self.get_function),
            Route("delete_function", "DELETE", "/v2/functions/{function_id}", self.delete_function),
            Route("submit", "POST", "/v3/endpoints/{endpoint_id}/submit", self.submit),
            Route("get_task", "GET", "/v2/tasks/{task_id}", self.get_task),
            Route("batch_status", "POST", "/v2/batch_status", self.batch_status),
            Route("task_group", "GET", "/v2/taskgroup/{task_group_id}", self.task_group),
        ]

    def version(self, req: Request) -> Any:
        if req.arg("service") == "all":
            return {
                "api": API_VERSION,
                "min_sdk_version": "1.0.0",
                "min_ep_version": "1.0.0",
                "min_endpoint_version": "1.0.0",
                "git_sha": "chiltepin-stand-in",
                "stand_in": True,
            }
        return API_VERSION

    def amqp_url(self, req: Request) -> Any:
        return {
            "connection_url": self.settings.amqp_url,
            "queue_prefix": self.settings.queue_prefix,
            "stand_in": True,
        }

    # endpoints ------------------------------------------------------------------------
    def register_endpoint(self, req: Request) -> Any:
        return self._register(req, None)

    def update_endpoint(self, req: Request) -> Any:
        return self._register(req, _uuid(req.params["endpoint_id"], "endpoint id"))

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
        self._bridge.declare_endpoint(ep_id, template_capable=template_capable)
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
        return self._endpoint_doc(self._endpoint(req.params["endpoint_id"]))

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
        ep = self._endpoint(req.params["endpoint_id"])
        online = self.is_online(ep)
        details = {
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
        ep = self._endpoint(req.params["endpoint_id"])
        with self.state.lock:
            self.state.endpoints.pop(ep.endpoint_id, None)
            for child in self.state.user_endpoints(ep.endpoint_id):
                self.state.endpoints.pop(child.endpoint_id, None)
        return {"result": 302}

    def lock(self, req: Request) -> Any:
        ep = self._endpoint(req.params["endpoint_id"])
        expires = datetime.fromtimestamp(time.time() + 300, tz=timezone.utc)
        return {
            "endpoint_id": ep.endpoint_id,
            "lock_expiration_timestamp": expires.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        }

    def allowed_functions(self, req: Request) -> Any:
        ep = self._endpoint(req.params["endpoint_id"])
        allowed = ep.allowed_functions
        return {
            "endpoint_id": ep.endpoint_id,
            "restricted": allowed is not None,
            "functions": list(allowed or []),
        }

    # functions ------------------------------------------------------------------------
    def register_function(self, req: Request) -> Any:
        body = req.json()
        code = body.get("function_code") if isinstance(body, dict) else None
        if not isinstance(code, str) or not code:
            raise ApiError(400, "BAD_REQUEST", "function registration needs 'function_code'")
        if len(code) > MAX_PAYLOAD_BYTES:
            raise ApiError(413, "PAYLOAD_TOO_LARGE", "function code exceeds 10 MB")
        fn_id = str(uuid.uuid4())
        rec = FunctionRecord(
            fn_id,
            body.get("function_name") or "unnamed",
            code,
            self.auth.identities_for(req)[0].sub,
            body.get("description"),
            body.get("meta") or body.get("metadata"),
        )
        with self.state.lock:
            self.state.functions[fn_id] = rec
        return {"function_uuid": fn_id}

    def _function(self, function_id: str) -> FunctionRecord:
        fn_id = _uuid(function_id, "function id")
        with self.state.lock:
            fn = self.state.functions.get(fn_id)
        if fn is None:
            raise ApiError(404, "FUNCTION_NOT_FOUND", f"Function {fn_id} could not be found", fn_id)
        return fn

    def get_function(self, req: Request) -> Any:
        fn = self._function(req.params["function_id"])
        return {
            "function_uuid": fn.function_id,
            "function_name": fn.name,
            "function_code": fn.code,
            "description": fn.description,
            "metadata": fn.meta or {},
        }

    def delete_function(self, req: Request) -> Any:
        fn = self._function(req.params["function_id"])
        with self.state.lock:
            self.state.functions.pop(fn.function_id, None)
        return {"result": 302}

    # submit ---------------------------------------------------------------------------
    def _check_user_options(self, ep: EndpointRecord, opts: dict[str, Any]) -> None:
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

    def _user_endpoint_for(
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
            self._bridge.declare_endpoint(uep_id, template_capable=False)
            log.info(
                "stand-in: new user endpoint %s under %s for %s",
                uep_id,
                parent.endpoint_id,
                canonical_json(opts),
            )
        return uep, created

    def _send_start(
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
        self._bridge.publish_command(
            queue_names(parent.endpoint_id)["commands"], json.dumps(command).encode()
        )

    def submit(self, req: Request) -> Any:
        ep = self._endpoint(req.params["endpoint_id"])
        if ep.parent_id is not None:
            raise ApiError(
                400,
                "BAD_REQUEST",
                f"{ep.endpoint_id} is a user endpoint; submit to its parent {ep.parent_id}"
                " with a user_endpoint_config instead",
            )
        body = req.json()
        tasks = body.get("tasks") if isinstance(body, dict) else None
        if not isinstance(tasks, dict) or not tasks:
            raise ApiError(400, "BAD_REQUEST", "submit needs a non-empty 'tasks' mapping")
        functions = {fid: self._function(fid) for fid in tasks}
        allowed = ep.allowed_functions
        for fid in functions:
            if allowed is not None and fid not in allowed:
                raise ApiError(
                    403,
                    "FUNCTION_NOT_PERMITTED",
                    f"Function {fid} not permitted on endpoint {ep.endpoint_id}",
                )
        for fid, payloads in tasks.items():
            if not isinstance(payloads, list) or not all(isinstance(p, str) for p in payloads):
                raise ApiError(400, "BAD_REQUEST", f"tasks[{fid}] must be a list of strings")
            for p in payloads:
                if len(p) > MAX_PAYLOAD_BYTES:
                    raise ApiError(413, "PAYLOAD_TOO_LARGE", "a task payload exceeds 10 MB")
        res_spec = body.get("resource_specification") or None
        opts = body.get("user_endpoint_config") or {}
        if not isinstance(opts, dict):
            raise ApiError(400, "BAD_REQUEST", "user_endpoint_config must be a JSON object")
        identity = self.auth.identities_for(req)[0].sub

        uep: EndpointRecord | None = None
        target = ep
        if ep.template_capable:
            if self.settings.validate_user_options:
                self._check_user_options(ep, opts)
            uep, _ = self._user_endpoint_for(ep, opts, identity)
            target = uep
        elif opts:
            raise ApiError(
                400,
                "BAD_REQUEST",
                f"endpoint {ep.endpoint_id} is not template-capable; it takes no"
                " user_endpoint_config",
            )

        tg_id = (
            _uuid(body["task_group_id"], "task_group_id")
            if body.get("task_group_id")
            else str(uuid.uuid4())
        )
        self._bridge.declare_group_queue(self.settings.queue_prefix + tg_id)

        headers_base: dict[str, Any] = {
            "resource_specification": json.dumps(res_spec) if res_spec else None,
        }
        if body.get("result_serializers"):
            headers_base["result_serializers"] = body["result_serializers"]
        messages: list[tuple[dict[str, Any], bytes]] = []
        out: dict[str, list[str]] = {}
        records = []
        for fid, payloads in tasks.items():
            code = functions[fid].code
            ids = out.setdefault(fid, [])
            for payload in payloads:
                tid = str(uuid.uuid4())
                task = Task(task_id=uuid.UUID(tid), task_buffer=code + payload)
                hdrs = dict(headers_base, function_uuid=fid, task_uuid=tid)
                messages.append((hdrs, messagepack.pack(task)))
                records.append(StandInTask(tid, fid, ep.endpoint_id, target.endpoint_id, tg_id))
                ids.append(tid)
        with self.state.lock:
            group = self.state.task_groups.get(tg_id)
            if group is None:
                group = TaskGroup(tg_id, identity)
                self.state.task_groups[tg_id] = group
            for rec in records:
                self.state.tasks[rec.task_id] = rec
                group.task_ids.append(rec.task_id)
        self._bridge.publish_tasks(queue_names(target.endpoint_id)["tasks"], messages)
        if uep is not None:
            # like the service: every submission asks the parent to (re)start the user
            # endpoint; the parent ignores it (refreshing credentials) if it is running
            self._send_start(ep, uep, req, body.get("user_runtime"))
        return {
            "request_id": str(uuid.uuid4()),
            "task_group_id": tg_id,
            "endpoint_id": ep.endpoint_id,
            "tasks": out,
        }

    # task status ----------------------------------------------------------------------
    def get_task(self, req: Request) -> Any:
        tid = _uuid(req.params["task_id"], "task id")
        with self.state.lock:
            rec = self.state.tasks.get(tid)
            doc = rec.as_status() if rec else None
        if doc is None:
            raise ApiError(404, "TASK_NOT_FOUND", f"Task {tid} could not be found", tid)
        return doc

    def batch_status(self, req: Request) -> Any:
        body = req.json()
        ids = body.get("task_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list):
            raise ApiError(400, "BAD_REQUEST", "batch_status needs a 'task_ids' list")
        results = {}
        with self.state.lock:
            for tid in ids:
                rec = self.state.tasks.get(str(tid))
                if rec is not None:
                    results[rec.task_id] = rec.as_status()
        return {"response": "batch", "results": results}

    def task_group(self, req: Request) -> Any:
        tg_id = _uuid(req.params["task_group_id"], "task group id")
        with self.state.lock:
            group = self.state.task_groups.get(tg_id)
            if group is None:
                raise ApiError(
                    404, "TASK_GROUP_NOT_FOUND", f"Task group {tg_id} could not be found"
                )
            tasks = [
                {
                    "id": tid,
                    "created_at": datetime.fromtimestamp(
                        self.state.tasks[tid].created_at, tz=timezone.utc
                    ).strftime("%Y-%m-%dT%H:%M:%S.%f"),
                }
                for tid in group.task_ids
            ]
        return {"taskgroup_id": tg_id, "create_websockets_queue": True, "tasks": tasks}

    # AMQP handlers (run in the bridge's I/O thread) ------------------------------------
    def handle_result(self, endpoint_id: str, props: Any, body: bytes) -> None:
        """A Result from ``<ep>.results``: record it and relay it to its task group queue."""
        msg = messagepack.unpack(body)
        if not isinstance(msg, Result):
            log.warning("stand-in: non-Result on %s.results: %r", endpoint_id, type(msg))
            return
        tid = str(msg.task_id)
        with self.state.lock:
            rec = self.state.tasks.get(tid)
            if rec is None:
                log.warning("stand-in: result for unknown task %s from %s", tid, endpoint_id)
                return
            if rec.status != WAITING:
                log.warning("stand-in: duplicate result for task %s dropped", tid)
                return
            rec.completion_t = time.time()
            rec.details = task_details(msg)
            if msg.is_error:
                rec.status = FAILED
                rec.exception = msg.data
            else:
                rec.status = SUCCESS
                rec.result = msg.data
            queue = self.settings.queue_prefix + rec.task_group_id
        assert self.bridge is not None
        self.bridge.publish_result(queue, body)

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
