"""What the stand-in remembers: endpoints, user endpoints, functions, tasks, task groups.

The real service keeps this in a database; the stand-in keeps it in memory behind one lock,
because tests need status queries, ``reload_tasks`` and liveness to agree with what was
routed over AMQP, and one process is the whole "cloud".
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

WAITING = "waiting-for-ep"
SUCCESS = "success"
FAILED = "failed"


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal options give equal strings (and ids)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def user_endpoint_id(parent_id: str, identity: str, user_opts: dict[str, Any]) -> str:
    """Deterministic user-endpoint id, like the service: one per (parent, user, options)."""
    key = canonical_json({"identity": identity, "user_endpoint_config": user_opts})
    return str(uuid.uuid5(uuid.UUID(parent_id), key))


@dataclass
class EndpointRecord:
    """A registered endpoint, or a user endpoint the stand-in created under a parent."""

    endpoint_id: str
    name: str
    owner: str
    template_capable: bool = False
    multi_user: bool = False
    display_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    registered_at: float = field(default_factory=time.time)
    parent_id: str | None = None
    user_opts: dict[str, Any] | None = None
    last_heartbeat: float | None = None  # monotonic clock
    heartbeat_period: float = 30.0
    last_report: dict[str, Any] = field(default_factory=dict)
    stopping: bool = False  # the endpoint said it is shutting down (heartbeat_period 0)
    forced_offline: bool = False  # fault injection
    forced_stop: bool = False  # fault injection: the forced spell reads as an announced stop
    start_error: str | None = None  # last failure notice from the parent endpoint
    start_commands: int = 0
    allowed_functions: list[str] | None = None
    subscription_id: str | None = None

    @property
    def is_user_endpoint(self) -> bool:
        return self.parent_id is not None


@dataclass
class FunctionRecord:
    function_id: str
    name: str
    code: str
    owner: str
    description: str | None = None
    meta: dict[str, Any] | None = None
    created_at: float = field(default_factory=time.time)


@dataclass
class StandInTask:
    """The service's record of one task (the client's is the journal's ``TaskRecord``)."""

    task_id: str
    function_id: str
    endpoint_id: str  # as submitted (the parent, for a template-capable endpoint)
    routed_to: str  # the endpoint whose task queue holds it (a user endpoint, or the same)
    task_group_id: str
    status: str = WAITING
    created_at: float = field(default_factory=time.time)
    completion_t: float | None = None
    result: str | None = None
    exception: str | None = None
    details: dict[str, Any] | None = None

    def as_status(self) -> dict[str, Any]:
        """The document ``GET /v2/tasks/{id}`` and ``batch_status`` return for this task."""
        doc: dict[str, Any] = {"task_id": self.task_id, "status": self.status}
        if self.completion_t is not None:
            doc["completion_t"] = f"{self.completion_t:.6f}"
        if self.status == SUCCESS and self.result is not None:
            doc["result"] = self.result
        if self.status == FAILED:
            doc["exception"] = self.exception or "unknown failure"
        if self.details:
            doc["details"] = self.details
        return doc


@dataclass
class TaskGroup:
    task_group_id: str
    owner: str
    task_ids: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)


class StandInState:
    """All records, guarded by ``lock`` (an RLock: HTTP threads and the AMQP thread share it)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.endpoints: dict[str, EndpointRecord] = {}
        self.functions: dict[str, FunctionRecord] = {}
        self.tasks: dict[str, StandInTask] = {}
        self.task_groups: dict[str, TaskGroup] = {}

    def user_endpoints(self, parent_id: str) -> list[EndpointRecord]:
        with self.lock:
            return [e for e in self.endpoints.values() if e.parent_id == parent_id]

    def pending_tasks_for(self, endpoint_id: str) -> list[StandInTask]:
        with self.lock:
            return [
                t for t in self.tasks.values() if t.routed_to == endpoint_id and t.status == WAITING
            ]

    def summary(self) -> dict[str, Any]:
        """A JSON-able overview for ``GET /_standin/state`` and ``chiltepin testing status``."""
        with self.lock:
            counts: dict[str, int] = {}
            for t in self.tasks.values():
                counts[t.status] = counts.get(t.status, 0) + 1
            return {
                "endpoints": [
                    {
                        "endpoint_id": e.endpoint_id,
                        "name": e.name,
                        "template_capable": e.template_capable,
                        "parent_id": e.parent_id,
                        "user_endpoint_config": e.user_opts,
                        "last_heartbeat_age_s": (
                            None
                            if e.last_heartbeat is None
                            else round(time.monotonic() - e.last_heartbeat, 2)
                        ),
                        "forced_offline": e.forced_offline,
                        "start_error": e.start_error,
                    }
                    for e in self.endpoints.values()
                ],
                "functions": len(self.functions),
                "tasks": counts,
                "task_groups": len(self.task_groups),
            }
