"""A stand-in Transfer task: its record, and the document ``GET /task/{id}`` shows of it.

The work behind it (expanding items, syncing, copying and verifying, deleting) is
:mod:`chiltepin.testing.transfer_runner`; the routes that create and show tasks are
:mod:`chiltepin.testing.transfer_api`.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from chiltepin.testing.collections import Collection

ACTIVE, SUCCEEDED, FAILED = "ACTIVE", "SUCCEEDED", "FAILED"


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_time(value: Any) -> float | None:
    """A Transfer date (``2024-01-01T00:00:00+00:00`` or ``2024-01-01 00:00:00``) → epoch."""
    if value in (None, ""):
        return None
    text = str(value).strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


@dataclass
class TransferTask:
    """A Transfer or Delete task and everything ``GET /task/...`` reports about it."""

    task_id: str
    type: str  # TRANSFER | DELETE
    owner_id: str
    submission_id: str
    source: Collection
    destination: Collection | None
    items: list[dict[str, Any]]
    options: dict[str, Any]
    label: str | None = None
    status: str = ACTIVE
    request_time: str = field(default_factory=now_iso)
    completion_time: str | None = None
    deadline: float | None = None
    fatal_error: dict[str, str] | None = None
    nice_status: str | None = "Queued"
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "files",
                "directories",
                "symlinks",
                "files_skipped",
                "files_transferred",
                "bytes_transferred",
                "bytes_checksummed",
                "faults",
                "subtasks_total",
                "subtasks_pending",
                "subtasks_retrying",
                "subtasks_succeeded",
                "subtasks_failed",
                "subtasks_canceled",
                "subtasks_expired",
                "subtasks_skipped_errors",
            ),
            0,
        )
    )
    events: list[dict[str, Any]] = field(default_factory=list)
    successful: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    started_monotonic: float = field(default_factory=time.monotonic)
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event(self, code: str, description: str, details: str = "", *, error: bool = False) -> None:
        with self.lock:
            self.events.append(
                {
                    "DATA_TYPE": "event",
                    "code": code,
                    "description": description,
                    "details": details,
                    "is_error": error,
                    "time": now_iso(),
                }
            )

    def bump(self, **deltas: int) -> None:
        with self.lock:
            for key, delta in deltas.items():
                self.counts[key] += delta

    def doc(self) -> dict[str, Any]:
        """The task document (``GET /task/{id}``, ``task_list``)."""
        elapsed = max(time.monotonic() - self.started_monotonic, 1e-6)
        with self.lock:
            counts = dict(self.counts)
            fatal = dict(self.fatal_error) if self.fatal_error else None
        opts = self.options
        doc: dict[str, Any] = {
            "DATA_TYPE": "task",
            "task_id": self.task_id,
            "type": self.type,
            "status": self.status,
            "label": self.label,
            "owner_id": self.owner_id,
            "username": "standin-user",
            "command": "API 0.10",
            "request_time": self.request_time,
            "completion_time": self.completion_time,
            "deadline": (
                datetime.fromtimestamp(self.deadline, timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%S+00:00"
                )
                if self.deadline
                else None
            ),
            "source_endpoint_id": self.source.id,
            "source_endpoint_display_name": self.source.display_name,
            "source_endpoint": self.source.display_name,
            "destination_endpoint_id": self.destination.id if self.destination else None,
            "destination_endpoint_display_name": (
                self.destination.display_name if self.destination else None
            ),
            "destination_endpoint": self.destination.display_name if self.destination else None,
            "sync_level": opts.get("sync_level"),
            "verify_checksum": bool(opts.get("verify_checksum", False)),
            "preserve_timestamp": bool(opts.get("preserve_timestamp", False)),
            "encrypt_data": bool(opts.get("encrypt_data", False)),
            "skip_source_errors": bool(opts.get("skip_source_errors", False)),
            "fail_on_quota_errors": bool(opts.get("fail_on_quota_errors", False)),
            "delete_destination_extra": bool(opts.get("delete_destination_extra", False)),
            "recursive_symlinks": "ignore",
            "filter_rules": None,
            "fatal_error": fatal,
            "is_ok": None if self.status != ACTIVE else self.fatal_error is None,
            "is_paused": False,
            "nice_status": self.nice_status if self.status == ACTIVE else None,
            "nice_status_details": None,
            "nice_status_expires_in": None,
            "nice_status_short_description": None,
            "canceled_by_admin": None,
            "canceled_by_admin_message": None,
            "history_deleted": False,
            "effective_bytes_per_second": int(counts["bytes_transferred"] / elapsed),
            **counts,
        }
        return doc


def new_task_id() -> str:
    return str(uuid.uuid4())
