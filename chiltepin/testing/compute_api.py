"""The Globus Compute web API subset, and what the cloud does behind it.

Routes were found by grepping ``globus_sdk.services.compute`` (what the SDK can call) and
by running the real ``globus_compute_sdk`` Client/Executor and ``globus-compute-endpoint``
against the stand-in with unknown routes logged. Two halves: endpoints (registration,
status and liveness from heartbeats, user endpoints and their start commands:
:mod:`chiltepin.testing.compute_endpoints`) and, here, functions and tasks (register,
submit and route to the endpoint's or user endpoint's queue, task status, result relay
to task-group queues). :class:`ComputeApi` serves both.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from globus_compute_common import messagepack
from globus_compute_common.messagepack.message_types import (
    Result,
    Task,
)

from chiltepin.client.limits import MAX_PAYLOAD_BYTES
from chiltepin.testing.amqp import (
    AmqpBridge,
    queue_names,
)
from chiltepin.testing.auth_api import AuthApi
from chiltepin.testing.compute_endpoints import (
    ComputeSettings,
    EndpointsApi,
    connected,
    parse_uuid,
)
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
)

log = logging.getLogger("chiltepin.testing")

API_VERSION = "1.0.0"


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


class ComputeApi:
    """The Compute routes: endpoints' (:class:`EndpointsApi`) and functions' and tasks'."""

    def __init__(self, state: StandInState, auth: AuthApi, settings: ComputeSettings) -> None:
        self.state = state
        self.auth = auth
        self.settings = settings
        self.endpoints = EndpointsApi(state, auth, settings)
        self._connected: AmqpBridge | None = None

    @property
    def bridge(self) -> AmqpBridge | None:
        """The AMQP bridge (set by the stand-in once connected), shared with the endpoints."""
        return self._connected

    @bridge.setter
    def bridge(self, bridge: AmqpBridge | None) -> None:
        self._connected = self.endpoints.bridge = bridge

    # -- routes -----------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [
            Route("version", "GET", "/v2/version", self.version),
            Route("amqp_url", "GET", "/v2/get_amqp_result_connection_url", self.amqp_url),
            *self.endpoints.routes(),
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
        fn_id = parse_uuid(function_id, "function id")
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
    def submit(self, req: Request) -> Any:
        ep = self.endpoints.endpoint(req.params["endpoint_id"])
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
                self.endpoints.check_user_options(ep, opts)
            uep, _ = self.endpoints.user_endpoint_for(ep, opts, identity)
            target = uep
        elif opts:
            raise ApiError(
                400,
                "BAD_REQUEST",
                f"endpoint {ep.endpoint_id} is not template-capable; it takes no"
                " user_endpoint_config",
            )

        tg_id = (
            parse_uuid(body["task_group_id"], "task_group_id")
            if body.get("task_group_id")
            else str(uuid.uuid4())
        )
        connected(self.bridge).declare_group_queue(self.settings.queue_prefix + tg_id)

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
        connected(self.bridge).publish_tasks(queue_names(target.endpoint_id)["tasks"], messages)
        if uep is not None:
            # like the service: every submission asks the parent to (re)start the user
            # endpoint; the parent ignores it (refreshing credentials) if it is running
            self.endpoints.send_start(ep, uep, req, body.get("user_runtime"))
        return {
            "request_id": str(uuid.uuid4()),
            "task_group_id": tg_id,
            "endpoint_id": ep.endpoint_id,
            "tasks": out,
        }

    # task status ----------------------------------------------------------------------
    def get_task(self, req: Request) -> Any:
        tid = parse_uuid(req.params["task_id"], "task id")
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
        tg_id = parse_uuid(req.params["task_group_id"], "task group id")
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
