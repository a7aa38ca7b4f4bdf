"""The run journal: enough on disk to collect a run after its client was killed.

A run directory holds ``journal.jsonl`` (one event per line, in the format of
:mod:`~chiltepin.federation.journal_format`, each written whole by one ``write(2)``), each
task's serialised arguments (so unfinished tasks can be resubmitted) and each finished
task's serialised result or error. Small ones (most of them) sit in their event's line;
larger ones go to ``calls.bin`` and ``results.bin``, the line saying where, so the
journal stays quick to read.

Appends only. A client killed mid-write leaves at most one torn last line: the reader
skips it, and the next writer starts on a fresh line so it never glues an event onto it.
Any other line that is not a whole event (a disk error, a hand edit) is skipped with a
warning naming its line number, as is an event about a task the journal never submitted.

A task's event is written as it is submitted, before it is placed: late binding may hold
it on the client for a long time, and a killed client's successor must place it then.
Inside :meth:`Journal.submission` it rides with the next line written instead (its first
attempt's, when the task is placed at once: one ``write(2)`` and one turn of the lock per
task, not two), and is written when the submission ends at the latest: it is on disk
before the task leaves for a site and before ``submit`` returns, as without it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chiltepin.errors import ChiltepinError
from chiltepin.federation.journal_format import (
    COUNTED,
    EVENT_START,
    FORMAT_2_HEADER,
    REFUSED,
    VERSION,
    AgentEvent,
    AlertEvent,
    AttemptEvent,
    BadLine,
    DoneEvent,
    EstimatesEvent,
    Event,
    FunctionEvent,
    Header,
    JournalFormatError,
    RemoteEvent,
    SiteEvent,
    StatusEvent,
    Stored,
    TaskEvent,
    TaskOptions,
    TransferEvent,
    VersionsEvent,
    decode,
    line,
)
from chiltepin.federation.states import TaskState

log = logging.getLogger(__name__)
JOURNAL = "journal.jsonl"
CALLS = "calls.bin"
RESULTS = "results.bin"
INLINE_MAX = 4096  # characters of arguments or result kept in the event's own line
WARNINGS_SHOWN = 20  # skipped lines named one by one; the rest are counted
CHUNK = 1 << 24  # bytes of journal scanned at a time
TASK_LINES = (b'{"e":"T",', b'{"e":"a",', b'{"e":"r",', b'{"e":"d",')  # lines about one task
_OUTCOME = re.compile(rb'\n\{"e":"d","ok":([01]),"id":"([^"]*)"')
_AGENT_LINE = re.compile(rb'\n(\{"e":"ag",[^\n]*)')


class _AppendFile:
    """An append-only file written with one ``write(2)`` per record and no user-space
    buffer: a client killed the next instant loses nothing it was told was written."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self.offset = os.fstat(self._fd).st_size

    def ends_torn(self) -> bool:
        """Whether the file's last record was cut short (it does not end in a newline)."""
        return self.offset > 0 and os.pread(self._fd, 1, self.offset - 1) != b"\n"

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


def read_blob(path: Path, where: tuple[int, int]) -> bytes:
    offset, length = where
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read(length)
    if len(data) != length:
        raise ChiltepinError(f"{path} ends before the {length} bytes at offset {offset}")
    return data


class Journal:
    """Thread-safe writer of one run's journal."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self._lines = _AppendFile(run_dir / JOURNAL)
        if self._lines.ends_torn():  # a killed client's last line: never extend it
            self._lines.append(b"\n")
        self._calls = _AppendFile(run_dir / CALLS)
        self._results = _AppendFile(run_dir / RESULTS)
        self._lock = threading.Lock()
        self._closed = False
        self._pending = b""  # a submission's task line, not written yet (see submission())
        self._submitting = threading.local()

    def _write(self, record: Event) -> None:
        self._append(line(record.event()))

    def _append(self, data: bytes) -> None:
        """Write ``data`` (under the lock), after any task line still pending."""
        if self._pending:
            data, self._pending = self._pending + data, b""
        self._lines.append(data)

    def _store(self, data: str, side: _AppendFile) -> Stored:
        if len(data) <= INLINE_MAX:
            return Stored(inline=data)
        return Stored(at=side.append(data.encode()))

    def _stored_line(self, data: str, side: _AppendFile, event: Callable[[Stored], Event]) -> bytes:
        """The line of ``event(stored)``, ``data`` stored in it or in ``side``: encoded by
        the caller, and only a side file's append holds the lock, so threads writing
        results and submitting tasks wait on each other for the ``write(2)`` alone."""
        if len(data) <= INLINE_MAX:
            return line(event(Stored(inline=data)).event())
        with self._lock:
            stored = self._store(data, side)
        return line(event(stored).event())

    @contextlib.contextmanager
    def submission(self) -> Iterator[None]:
        """Within this block (one ``submit``), :meth:`task` leaves its line pending, to go
        out in the same ``write(2)`` as the next line any thread writes (the task's first
        attempt, when it is placed at once), and at the latest as the block ends."""
        self._submitting.on = True
        try:
            yield
        finally:
            self._submitting.on = False
            with self._lock:
                if self._pending and not self._closed:
                    self._append(b"")

    def run(self, config: dict[str, Any]) -> None:
        with self._lock:
            self._write(Header(VERSION, config, round(time.time(), 3)))

    def function(self, number: int, name: str, serialized: str) -> None:
        """Journal a function once per run; tasks that call it refer to ``number``."""
        with self._lock:
            self._write(FunctionEvent(number, name, self._store(serialized, self._calls)))

    def task(self, task_id: str, function: int, arguments: str, options: TaskOptions) -> None:
        """Journal a task as submitted (held, or about to be placed): ``arguments`` is its
        serialised ``(args, kwargs)``."""
        data = self._stored_line(
            arguments, self._calls, lambda stored: TaskEvent(task_id, function, "", stored, options)
        )
        with self._lock:
            if getattr(self._submitting, "on", False):
                self._pending += data
            else:
                self._append(data)

    def attempt(
        self,
        task_id: str,
        number: int,
        site: str,
        options: dict[str, Any],
        resource_specification: dict[str, Any],
        *,
        via: TaskState = TaskState.PLACED,
    ) -> None:
        """Attempt ``number`` of a task went to ``site``; ``via`` is the move that
        started it (placed, retried, raced or failed over)."""
        data = line(
            AttemptEvent(
                task_id, number, site, options, resource_specification, via, round(time.time(), 3)
            ).event()
        )
        with self._lock:
            self._append(data)

    def remote(self, task_id: str, number: int, remote_id: str, task_group: str | None) -> None:
        with self._lock:
            self._write(RemoteEvent(task_id, number, remote_id, task_group))

    def outcome(
        self,
        task_id: str,
        number: int,
        ok: bool,
        payload: str,
        kind: str,
        ran: dict[str, Any] | None = None,
    ) -> None:
        """``payload``: the serialised value (ok) or the error's text; ``kind`` the
        error's class; ``ran``: the probe's record of where and when it ran."""
        now = round(time.time(), 3)
        data = self._stored_line(
            payload,
            self._results,
            lambda stored: DoneEvent(task_id, number, ok, kind, stored, ran, now),
        )
        with self._lock:
            self._append(data)

    def site(self, name: str, healthy: bool, reason: str | None, state: str | None = None) -> None:
        """A site's health changed (``state``: an endpoint's named state). A site's
        monitor may still say so while the run shuts down: after close it is dropped."""
        event = SiteEvent(name, healthy, reason, state, round(time.time(), 3))
        with self._lock:
            if not self._closed:
                self._write(event)

    def alert(self, kind: str, site: str | None, details: dict[str, Any], at: float) -> None:
        """An alert the run sent, for readers of the journal (dropped after close)."""
        with self._lock:
            if not self._closed:
                self._write(AlertEvent(kind, site, details, round(at, 3)))

    def versions(self, site: str, versions: dict[str, Any]) -> None:
        """What a site's workers run, beside this client (the version pre-flight)."""
        with self._lock:
            self._write(VersionsEvent(site, versions))

    def status(self, status: StatusEvent) -> None:
        """What the running client knows of its sites and tasks now (see
        :mod:`chiltepin.federation.live_status`): for readers outside the run."""
        with self._lock:
            self._write(status)

    def transfer(self, event: TransferEvent) -> None:
        """A staging batch started or ended (see
        :class:`~chiltepin.federation.journal_format.TransferEvent`), for readers outside
        the run. Staging still settling while the run shuts down is dropped after close."""
        with self._lock:
            if not self._closed:
                self._write(event)

    def agent(self, event: AgentEvent) -> None:
        """An agent was launched or its launch ended (see
        :class:`~chiltepin.federation.journal_format.AgentEvent`). An agent still ending
        while the run shuts down is dropped after close."""
        with self._lock:
            if not self._closed:
                self._write(event)

    def estimates(self, sites: list[dict[str, Any]]) -> None:
        """What placement believed of each site at the end: for the run report."""
        with self._lock:
            self._write(EstimatesEvent(sites))

    def close(self) -> None:
        with self._lock:
            if self._pending:
                self._append(b"")
            self._closed = True
            for file in (self._lines, self._calls, self._results):
                file.close()


# -- reading ---------------------------------------------------------------------------


@dataclass(slots=True)
class AttemptRecord:
    number: int
    site: str
    options: dict[str, Any]
    resource_specification: dict[str, Any]
    submitted: float = 0.0
    via: TaskState = TaskState.PLACED  # the move that started it
    remote: str | None = None
    task_group: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome(DoneEvent):
    """A task's outcome as read back, and the journal line that says it (for an error
    about a result that cannot be read)."""

    line: int = 0


@dataclass(slots=True)
class TaskRecord:
    id: str
    name: str
    function: Stored | None  # its serialised function (None: format 1, the call holds it)
    stored: Stored  # its serialised (args, kwargs), or where in calls.bin they are
    options: TaskOptions
    attempts: list[AttemptRecord] = field(default_factory=list)
    outcome: Outcome | None = None


@dataclass
class RunRecord:
    run_dir: Path
    config: dict[str, Any]
    tasks: dict[str, TaskRecord]
    version: int = VERSION
    estimates: list[dict[str, Any]] = field(default_factory=list)  # the last client's
    functions: dict[int, tuple[str, Stored]] = field(default_factory=dict)
    last_number: int = -1  # the highest task number the run gave out
    # Tasks left out of ``tasks`` (read with ``finished=False``) because they had ended.
    finished_ok: int = 0
    finished_failed: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # site → pre-flight
    status: StatusEvent | None = None  # the last live status the run wrote
    agents: list[AgentEvent] = field(default_factory=list)  # in the order written
    # Functions read from calls.bin, by where: every task of a function shares one text.
    _function_texts: dict[tuple[int, int], str] = field(default_factory=dict, repr=False)

    def stored(self, stored: Stored, side: str) -> str:
        if stored.inline is not None:
            return stored.inline
        assert stored.at is not None
        return read_blob(self.run_dir / side, stored.at).decode()

    def function(self, task: TaskRecord) -> str:
        """The task's serialised function (format 2), read from ``calls.bin`` once per
        function however many tasks a resume restores."""
        stored = task.function
        assert stored is not None
        if stored.at is None:
            return self.stored(stored, CALLS)
        text = self._function_texts.get(stored.at)
        if text is None:
            text = self._function_texts[stored.at] = self.stored(stored, CALLS)
        return text

    def arguments(self, task: TaskRecord) -> str:
        """The task's serialised ``(args, kwargs)``, or (format 1) whole call."""
        return self.stored(task.stored, CALLS)

    def result(self, task: TaskRecord) -> str:
        assert task.outcome is not None
        return self.stored(task.outcome.stored, RESULTS)


def _lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(number, line, whole) for each line; ``whole`` is False for a torn last line."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            yield number, raw, raw.endswith(b"\n")


def _task_id(raw: bytes) -> bytes | None:
    start = raw.find(b'"id":"') + 6
    return raw[start : raw.find(b'"', start)] if start >= 6 else None


def _events(
    path: Path, skipped: list[tuple[int, str]], ended: set[bytes] | None = None
) -> Iterator[tuple[int, Event]]:
    """Each whole event of ``path`` with its line number; events about the tasks in
    ``ended`` are passed over unparsed."""
    version = 1
    for number, raw, whole in _lines(path):
        if ended and raw.startswith(TASK_LINES) and _task_id(raw) in ended:
            continue
        if not raw.strip():
            continue
        try:
            event = decode(raw, version)
        except JournalFormatError as err:
            raise JournalFormatError(f"{path} line {number}: {err}") from None
        except BadLine as err:
            if whole:  # a torn last line is what a kill leaves: not worth a warning
                skipped.append((number, str(err)))
            continue
        if isinstance(event, Header):
            version = event.version
        yield number, event


def _chunks(path: Path) -> Iterator[bytes]:
    """A format-2 journal's whole lines, a chunk at a time, each chunk and each line in
    it starting with a newline (a torn last line is left out: what a kill leaves);
    nothing for a journal of another format."""
    with path.open("rb") as f:
        rest = f.read(len(FORMAT_2_HEADER))
        if rest != FORMAT_2_HEADER:
            return
        while chunk := f.read(CHUNK):
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            yield b"\n" + chunk[:cut]
            rest = chunk[cut:]


def _ended(path: Path, record: RunRecord) -> set[bytes]:
    """The ids of a format-2 journal's ended tasks, found by the leading keys of their
    outcome lines without parsing a line; counted on ``record``."""
    ended: set[bytes] = set()
    for chunk in _chunks(path):
        for flag, task_id in _OUTCOME.findall(chunk):
            ended.add(task_id)
            record.finished_ok += flag == b"1"
    record.finished_failed = len(ended) - record.finished_ok
    numbers = (_number(task_id.decode()) for task_id in ended)
    record.last_number = max(numbers, default=-1)
    return ended


def events(run_dir: Path) -> Iterator[Event]:
    """Every whole event of a run's journal, in order, as written (no line skipped is
    named: :func:`read_journal` does that)."""
    for _, event in _events(run_dir / JOURNAL, []):
        yield event


def _warn(path: Path, skipped: list[tuple[int, str]]) -> None:
    for number, why in skipped[:WARNINGS_SHOWN]:
        log.warning("%s line %d skipped: %s", path, number, why)
    if len(skipped) > WARNINGS_SHOWN:
        log.warning("%s: %d more lines skipped", path, len(skipped) - WARNINGS_SHOWN)


def read_journal(run_dir: Path, *, finished: bool = True) -> RunRecord:
    """Rebuild what the journal knows about a run.

    Lines that are not whole events, and events about tasks it never submitted, are
    skipped with a warning naming their line (see :attr:`RunRecord.skipped`). With
    ``finished=False`` tasks that ended are only counted, not kept: what a resume needs
    of a long run without holding every task of it.
    """
    path = run_dir / JOURNAL
    if not path.is_file():
        raise ChiltepinError(f"{run_dir} is not a chiltepin run directory (no {JOURNAL})")
    record = RunRecord(run_dir=run_dir, config={}, tasks={})
    tasks = record.tasks
    skipped = record.skipped
    # Pass over the lines of ended tasks, most of a long run's journal, unless wanted.
    ended = None if finished else _ended(path, record)

    def orphan(number: int, event: TaskEvent | AttemptEvent | RemoteEvent | DoneEvent) -> None:
        skipped.append((number, f"{type(event).__name__} for task {event.id}, never submitted"))

    for number, event in _events(path, skipped, ended):
        if isinstance(event, (AttemptEvent, RemoteEvent, DoneEvent)):
            task = tasks.get(event.id)
            if task is None:
                if not (isinstance(event, DoneEvent) and not finished):
                    orphan(number, event)
                continue
            if isinstance(event, AttemptEvent):
                task.attempts.append(
                    AttemptRecord(
                        event.number,
                        event.site,
                        event.options,
                        event.resource_specification,
                        event.submitted,
                        event.via,
                    )
                )
            elif isinstance(event, RemoteEvent):
                for attempt in task.attempts:
                    if attempt.number == event.number:
                        attempt.remote, attempt.task_group = event.remote, event.task_group
            elif not finished:
                del tasks[event.id]
                if event.ok:
                    record.finished_ok += 1
                else:
                    record.finished_failed += 1
            else:
                task.outcome = Outcome(
                    event.id,
                    event.number,
                    event.ok,
                    event.kind,
                    event.stored,
                    event.ran,
                    event.finished,
                    event.version,
                    line=number,
                )
        elif isinstance(event, TaskEvent):
            record.last_number = max(record.last_number, _number(event.id))
            name, function = event.name, None
            if event.function is not None:  # the function as journalled before the task
                known = record.functions.get(event.function)
                if known is None:
                    skipped.append((number, f"task {event.id} calls unknown function"))
                    continue
                name, function = known
            tasks[event.id] = TaskRecord(event.id, name, function, event.stored, event.options)
        elif isinstance(event, FunctionEvent):
            record.functions[event.number] = (event.name, event.stored)
        elif isinstance(event, Header):
            record.config, record.version = event.config, event.version
        elif isinstance(event, EstimatesEvent):
            record.estimates = event.sites
        elif isinstance(event, VersionsEvent):
            record.versions[event.site] = event.versions
        elif isinstance(event, StatusEvent):
            record.status = event
        elif isinstance(event, AgentEvent):
            record.agents.append(event)
    _warn(path, skipped)
    return record


def _number(task_id: str) -> int:
    digits = task_id.lstrip("t")
    return int(digits) if digits.isdigit() else -1


@dataclass(frozen=True)
class Counts:
    """A run's tasks by state."""

    tasks: int
    held: int  # submitted, never placed on a site
    pending: int  # placed, no outcome yet
    succeeded: int
    failed: int
    skipped: int = 0  # lines that were not whole events

    def as_dict(self) -> dict[str, int]:
        states = {"held": self.held, "pending": self.pending}
        states |= {"succeeded": self.succeeded, "failed": self.failed}
        out = {"tasks": self.tasks, **{k: v for k, v in states.items() if v}}
        if self.skipped:
            out["skipped_lines"] = self.skipped
        return out


def _count(path: Path) -> dict[str, int] | None:
    """The :data:`COUNTED` keys' lines in a format-2 journal, without parsing a line;
    None if it is not format 2 or has a line that is not an event."""
    counts = dict.fromkeys((*COUNTED, "refused"), 0)
    chunks = 0
    for lines in _chunks(path):
        chunks += 1
        if lines.count(EVENT_START) != lines.count(b"\n") - 1:
            return None
        for key, prefix in COUNTED.items():
            counts[key] += lines.count(prefix)
        counts["refused"] += len(REFUSED.findall(lines))
    return counts if chunks else None


def count_states(run_dir: Path) -> Counts:
    """The run's tasks by state, quickly: the counted keys lead their lines (see
    :mod:`~chiltepin.federation.journal_format`), so a format-2 journal of whole
    events is counted without parsing a line. Anything else (a format-1 journal, a line
    that is no event, counts that do not add up) is read in full, with its warnings."""
    path = run_dir / JOURNAL
    if not path.is_file():
        raise ChiltepinError(f"{run_dir} is not a chiltepin run directory (no {JOURNAL})")
    n = _count(path)
    if n is not None:
        placed_done = n["succeeded"] + n["failed"] - n["refused"]  # ended after placement
        if n["tasks"] - n["refused"] >= n["attempted"] >= placed_done >= 0:
            held = n["tasks"] - n["refused"] - n["attempted"]
            pending = n["attempted"] - placed_done
            return Counts(n["tasks"], held, pending, n["succeeded"], n["failed"])
    record = read_journal(run_dir)
    outcomes = [t.outcome for t in record.tasks.values()]
    return Counts(
        tasks=len(record.tasks),
        held=sum(1 for t in record.tasks.values() if t.outcome is None and not t.attempts),
        pending=sum(1 for t in record.tasks.values() if t.outcome is None and t.attempts),
        succeeded=sum(1 for o in outcomes if o is not None and o.ok),
        failed=sum(1 for o in outcomes if o is not None and not o.ok),
        skipped=len(record.skipped),
    )


def agent_events(run_dir: Path) -> list[AgentEvent]:
    """The run's agent events, in order, quickly: a format-2 journal is scanned for the
    agent lines' leading key and only they are parsed (a line that is no whole event is
    passed over), so a long run's ``run status`` does not parse its tasks' lines."""
    path = run_dir / JOURNAL
    if not path.is_file():
        raise ChiltepinError(f"{run_dir} is not a chiltepin run directory (no {JOURNAL})")
    found: list[AgentEvent] = []
    scanned = False
    for chunk in _chunks(path):
        scanned = True
        for raw in _AGENT_LINE.findall(chunk):
            with contextlib.suppress(BadLine):
                event = decode(raw, VERSION)
                if isinstance(event, AgentEvent):
                    found.append(event)
    if scanned:
        return found
    return [event for event in events(run_dir) if isinstance(event, AgentEvent)]
