"""The run journal: enough on disk to collect a run after its client was killed.

A run directory holds ``journal.jsonl`` (one JSON event per line, flushed as written),
each task's serialised arguments (:attr:`Call.arguments
<chiltepin.client.calls.Call.arguments>`, so unfinished tasks can be resubmitted) and
each finished task's serialised result or error. Small ones (most of them) sit in their
event's line; larger ones go to ``calls.bin`` and ``results.bin``, the line saying where,
so the journal stays quick to read. Appends only: a client killed mid-write leaves at
most one torn last line, which the reader skips.

A task's event is written as it is submitted, before it is placed: late binding may hold
it on the client for a long time, and a killed client's successor must place it then.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from chiltepin.errors import ChiltepinError

JOURNAL = "journal.jsonl"
CALLS = "calls.bin"
RESULTS = "results.bin"
INLINE_MAX = 4096  # characters of arguments or result kept in the event's own line
_encode = json.JSONEncoder(separators=(",", ":")).encode  # one encoder, not one per line


class _Slot(NamedTuple):
    """Where an event keeps a serialised value: in its own line under ``inline``, or, when
    large, in the side file ``file`` with its (offset, length) under ``blob``."""

    inline: str
    blob: str
    file: str


ARGUMENTS = _Slot("args", "call", CALLS)
RESULT = _Slot("payload", "at", RESULTS)


class _AppendFile:
    """An append-only file written with one ``write(2)`` per record and no user-space
    buffer: a client killed the next instant loses nothing it was told was written."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.offset = os.fstat(self._fd).st_size

    def append(self, data: bytes) -> tuple[int, int]:
        """Write ``data``; return where it is: (offset, length)."""
        where = (self.offset, len(data))
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self.offset += len(data)
        return where

    def close(self) -> None:
        os.close(self._fd)


def read_blob(path: Path, where: list[int]) -> bytes:
    offset, length = where
    with path.open("rb") as f:
        f.seek(offset)
        return f.read(length)


def _stored(event: dict[str, Any], slot: _Slot, run_dir: Path) -> str:
    """What an event stored in ``slot``: in its line, or in the run's side file."""
    if slot.inline in event:
        return str(event[slot.inline])
    return read_blob(run_dir / slot.file, event[slot.blob]).decode()


class Journal:
    """Thread-safe writer of one run's journal."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self._lines = _AppendFile(run_dir / JOURNAL)
        self._side = {slot: _AppendFile(run_dir / slot.file) for slot in (ARGUMENTS, RESULT)}
        self._lock = threading.Lock()

    @staticmethod
    def _lines_of(*events: dict[str, Any]) -> str:
        now = round(time.time(), 3)
        return "".join(_encode({**e, "t": now}) + "\n" for e in events)

    def _write(self, *events: dict[str, Any]) -> None:
        self._lines.append(self._lines_of(*events).encode())

    def _store(self, data: str, slot: _Slot) -> dict[str, Any]:
        if len(data) <= INLINE_MAX:
            return {slot.inline: data}
        return {slot.blob: self._side[slot].append(data.encode())}

    def run(self, config: dict[str, Any]) -> None:
        with self._lock:
            self._write({"e": "run", "config": config})

    def task(self, task_id: str, name: str, arguments: str, meta: dict[str, Any]) -> None:
        """Journal a task as submitted (held, or about to be placed)."""
        with self._lock:
            stored = self._store(arguments, ARGUMENTS)
            self._write({"e": "task", "id": task_id, "name": name, **stored, **meta})

    def attempt(self, task_id: str, number: int, site: str, routing: dict[str, Any]) -> None:
        with self._lock:
            self._write({"e": "attempt", "id": task_id, "n": number, "site": site, **routing})

    def remote(self, task_id: str, number: int, remote_id: str, task_group: str | None) -> None:
        with self._lock:
            self._write(
                {"e": "remote", "id": task_id, "n": number, "remote": remote_id, "tg": task_group}
            )

    def outcome(
        self,
        task_id: str,
        number: int,
        ok: bool,
        payload: str,
        kind: str,
        ran: dict[str, Any] | None = None,
    ) -> None:
        """``payload``: the serialised (value, ran) pair (ok) or the error's text;
        ``kind`` its class; ``ran``: the probe's record of where and when it ran."""
        with self._lock:
            stored = self._store(payload, RESULT)
            event = {"e": "done", "id": task_id, "n": number, "ok": ok, "kind": kind, **stored}
            if ran is not None:
                event["ran"] = ran
            self._write(event)

    def site(self, name: str, healthy: bool, reason: str | None) -> None:
        with self._lock:
            self._write({"e": "site", "site": name, "healthy": healthy, "reason": reason})

    def versions(self, site: str, versions: dict[str, Any]) -> None:
        """What a site's workers run, beside this client (the version pre-flight)."""
        with self._lock:
            self._write({"e": "versions", "site": site, "versions": versions})

    def estimates(self, sites: list[dict[str, Any]]) -> None:
        """What placement believed of each site at the end: for the run report."""
        with self._lock:
            self._write({"e": "estimates", "sites": sites})

    def close(self) -> None:
        with self._lock:
            self._lines.close()
            for file in self._side.values():
                file.close()


@dataclass
class AttemptRecord:
    number: int
    site: str
    options: dict[str, Any]
    resource_specification: dict[str, Any]
    submitted: float = 0.0
    race: bool = False  # started beside the one before it, not after it failed
    remote: str | None = None
    task_group: str | None = None


@dataclass
class TaskRecord:
    id: str
    name: str
    stored: dict[str, Any]  # its arguments, or where in calls.bin they are
    meta: dict[str, Any]
    attempts: list[AttemptRecord] = field(default_factory=list)
    outcome: dict[str, Any] | None = None


@dataclass
class RunRecord:
    run_dir: Path
    config: dict[str, Any]
    tasks: dict[str, TaskRecord]
    estimates: list[dict[str, Any]] = field(default_factory=list)  # the last client's
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # site → pre-flight

    def call(self, task: TaskRecord) -> str:
        return _stored(task.stored, ARGUMENTS, self.run_dir)

    def result(self, task: TaskRecord) -> str:
        assert task.outcome is not None
        return _stored(task.outcome, RESULT, self.run_dir)


def read_journal(run_dir: Path) -> RunRecord:
    """Rebuild what the journal knows about a run (skipping a torn last line)."""
    path = run_dir / JOURNAL
    if not path.is_file():
        raise ChiltepinError(f"{run_dir} is not a chiltepin run directory (no {JOURNAL})")
    config: dict[str, Any] = {}
    tasks: dict[str, TaskRecord] = {}
    estimates: list[dict[str, Any]] = []
    versions: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        kind = event.pop("e")
        if kind == "run":
            config = event["config"]
        elif kind == "task":
            task_id = event.pop("id")
            stored = {k: event.pop(k) for k in (ARGUMENTS.inline, ARGUMENTS.blob) if k in event}
            name = event.pop("name")
            tasks[task_id] = TaskRecord(id=task_id, name=name, stored=stored, meta=event)
        elif kind == "attempt":
            tasks[event["id"]].attempts.append(
                AttemptRecord(
                    number=event["n"],
                    site=event["site"],
                    options=event.get("options", {}),
                    resource_specification=event.get("resource_specification", {}),
                    submitted=event["t"],
                    race=event.get("race", False),
                )
            )
        elif kind == "remote":
            for attempt in tasks[event["id"]].attempts:
                if attempt.number == event["n"]:
                    attempt.remote, attempt.task_group = event["remote"], event["tg"]
        elif kind == "done":
            tasks[event["id"]].outcome = event
        elif kind == "estimates":
            estimates = event["sites"]
        elif kind == "versions":
            versions[event["site"]] = event["versions"]
    return RunRecord(
        run_dir=run_dir, config=config, tasks=tasks, estimates=estimates, versions=versions
    )
