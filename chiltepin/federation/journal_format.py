"""The journal's one schema: each event as a typed record, and its line on disk.

Every line of ``journal.jsonl`` is one JSON object whose first key ``e`` names its event;
the run header (``e: run``) carries the format version :data:`VERSION`. The writer
(:mod:`chiltepin.federation.journal`) and every reader (resume, ``chiltepin run status``,
the run report) go through the records here, so a field added to a task's options is
written and read back in one place.

Lines are kept short (a million-task run writes three per task): keys are one or two
letters, fields at their defaults are left out, and the function a task calls is written
once per run (event ``f``) and referred to by number. The few keys that ``run status``
counts without parsing come first on their line, in a fixed order (see
:data:`COUNTED`): ``{"e":"a","n":1,`` starts a task's first attempt, ``{"e":"d","ok":1,``
a success.

Format history: version 1 (no ``v`` in the header; long event names, each task's line
holding its function too) is still read; version 2 is this one. The live status event
(``st``) came later within version 2: a journal without it reads as before, and a
chiltepin that predates it skips its lines with a warning (``run status`` counts alike).
A site's idle workers and blocks came later still, as keys of its status that a reader
without them ignores and a status without them reads as unsaid (None): no new version.
The staging event (``tr``, :class:`TransferEvent`) came later still, on the same terms, and
the agent event (``ag``, :class:`AgentEvent`) after it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any, Literal, get_args

from chiltepin.errors import ChiltepinError
from chiltepin.federation.states import TaskState

VERSION = 2
OLDEST = 1  # the oldest format this module still reads

_encode = json.JSONEncoder(separators=(",", ":")).encode  # one encoder, not one per line

(
    RUN,
    FUNCTION,
    TASK,
    ATTEMPT,
    REMOTE,
    DONE,
    SITE,
    ESTIMATES,
    VERSIONS,
    ALERT,
    STATUS,
    TRANSFER,
    AGENT,
) = (
    "run",
    "f",
    "T",
    "a",
    "r",
    "d",
    "s",
    "x",
    "versions",
    "alert",
    "st",
    "tr",
    "ag",
)
COUNTED = {
    "tasks": b'\n{"e":"T",',
    "attempted": b'\n{"e":"a","n":1,',  # a task's first attempt: one per task placed
    "succeeded": b'\n{"e":"d","ok":1,',
    "failed": b'\n{"e":"d","ok":0,',
}
#: A failure journalled with attempt number 0: the task was refused before any site took
#: it (so it has no attempt line), counted by this pattern rather than a prefix.
REFUSED = re.compile(rb'\n\{"e":"d","ok":0,"id":"[^"]*","n":0,')
EVENT_START = b'\n{"e":"'
FORMAT_2_HEADER = b'{"e":"run","v":2,'  # how a format-2 journal starts


class JournalFormatError(ChiltepinError):
    """A journal this chiltepin cannot read (written by a newer one)."""


class BadLine(ValueError):
    """One line that is not a well-formed event (torn, garbage, missing a field)."""


def line(event: dict[str, Any]) -> bytes:
    return (_encode(event) + "\n").encode()


@dataclass(frozen=True, slots=True)
class Stored:
    """A serialised value: in its line (``inline``) or at (offset, length) of a side file."""

    inline: str | None = None
    at: tuple[int, int] | None = None

    def fields(self, key: str) -> dict[str, Any]:
        return {key: self.inline} if self.inline is not None else {"at": list(self.at or ())}

    @classmethod
    def of(cls, event: dict[str, Any], key: str) -> Stored:
        if key in event:
            return cls(inline=_text(event[key], key))
        at = event.get("at")
        if not (isinstance(at, list) and len(at) == 2 and all(isinstance(x, int) for x in at)):
            raise BadLine(f"neither {key!r} nor a valid 'at' (offset, length)")
        return cls(at=(at[0], at[1]))


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """Everything a task was submitted with besides its call: what resume needs to place
    it as its first client would have."""

    site: str | None = None
    tags: tuple[str, ...] = ()
    resources: dict[str, Any] = field(default_factory=dict)  # as requested (Resources.requested)
    allowed: tuple[str, ...] | None = None  # the sites a map() was restricted to
    policy: str | None = None  # a per-call placement policy
    stage_in: tuple[tuple[str, str], ...] = ()
    stage_out: tuple[tuple[str, str], ...] = ()

    _KEYS = {
        "site": "site",
        "tags": "tags",
        "resources": "res",
        "allowed": "allow",
        "policy": "p",
        "stage_in": "in",
        "stage_out": "out",
    }

    def fields(self) -> dict[str, Any]:
        """The options that differ from their defaults, under their short keys."""
        out: dict[str, Any] = {}
        for name, key in self._KEYS.items():
            value = getattr(self, name)
            if value:
                out[key] = value
        return out

    @classmethod
    def of(cls, event: dict[str, Any]) -> TaskOptions:
        keys = cls._KEYS
        return cls(
            site=event.get(keys["site"]),
            tags=tuple(event.get(keys["tags"]) or ()),
            resources=dict(event.get(keys["resources"]) or {}),
            allowed=tuple(event[keys["allowed"]]) if event.get(keys["allowed"]) else None,
            policy=event.get(keys["policy"]),
            stage_in=_pairs(event.get(keys["stage_in"])),
            stage_out=_pairs(event.get(keys["stage_out"])),
        )


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(a), str(b)) for a, b in value or ())


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise BadLine(f"{key!r} is not a string")
    return value


@dataclass(frozen=True, slots=True)
class FunctionEvent:
    number: int
    name: str
    stored: Stored

    def event(self) -> dict[str, Any]:
        return {"e": FUNCTION, "f": self.number, "name": self.name, **self.stored.fields("fn")}


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """A task as submitted. ``function`` numbers its :class:`FunctionEvent`; ``stored``
    holds its serialised ``(args, kwargs)`` (format 1: the whole serialised call, and
    ``function`` is None)."""

    id: str
    function: int | None
    name: str
    stored: Stored
    options: TaskOptions

    def event(self) -> dict[str, Any]:
        return {
            "e": TASK,
            "id": self.id,
            "f": self.function,
            **self.stored.fields("a"),
            **self.options.fields(),
        }


@dataclass(frozen=True, slots=True)
class AttemptEvent:
    id: str
    number: int
    site: str
    options: dict[str, Any]
    resource_specification: dict[str, Any]
    via: TaskState = TaskState.PLACED  # the move that started it (placed for the first)
    submitted: float = 0.0

    def event(self) -> dict[str, Any]:
        out: dict[str, Any] = {"e": ATTEMPT, "n": self.number, "id": self.id, "s": self.site}
        if self.options:
            out["o"] = self.options
        if self.resource_specification:
            out["rs"] = self.resource_specification
        # Both leave the attempt before live ("race", which a reader that predates
        # failing over also understands); a retry follows a failed one (no key).
        if self.via in (TaskState.RACED, TaskState.FAILED_OVER):
            out["race"] = 1
        if self.via is TaskState.FAILED_OVER:
            out["fo"] = 1
        out["t"] = self.submitted
        return out


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    id: str
    number: int
    remote: str
    task_group: str | None

    def event(self) -> dict[str, Any]:
        out: dict[str, Any] = {"e": REMOTE, "n": self.number, "id": self.id, "rid": self.remote}
        if self.task_group is not None:
            out["tg"] = self.task_group
        return out


@dataclass(frozen=True, slots=True)
class DoneEvent:
    """A task's outcome: ``stored`` is its serialised value (ok; format 1: the serialised
    (value, ran) pair) or its error's text, ``kind`` the error's class; ``ran`` where and
    when it ran (the probe's record)."""

    id: str
    number: int
    ok: bool
    kind: str
    stored: Stored
    ran: dict[str, Any] | None
    finished: float
    version: int = VERSION

    def event(self) -> dict[str, Any]:
        out: dict[str, Any] = {"e": DONE, "ok": int(self.ok), "id": self.id, "n": self.number}
        if not self.ok:
            out["k"] = self.kind
        out.update(self.stored.fields("r"))
        if self.ran is not None:  # its end stands for when it finished
            out["ran"] = _ran_fields(self.ran)
        else:
            out["t"] = self.finished
        return out


@dataclass(frozen=True, slots=True)
class Header:
    version: int
    config: dict[str, Any]
    started: float

    def event(self) -> dict[str, Any]:
        return {"e": RUN, "v": self.version, "config": self.config, "t": self.started}


@dataclass(frozen=True, slots=True)
class SiteEvent:
    """A site's health changed: whether placement may use it, why not, and (an endpoint
    site) its named state (``EndpointState``: online, stopped, lost, ...). Lines written
    before ``state`` and ``t`` existed read back with None and 0."""

    site: str
    healthy: bool
    reason: str | None
    state: str | None = None
    at: float = 0.0

    def event(self) -> dict[str, Any]:
        out: dict[str, Any] = {"e": SITE, "site": self.site, "healthy": self.healthy}
        out["reason"] = self.reason
        if self.state is not None:
            out["state"] = self.state
        out["t"] = self.at
        return out

    @classmethod
    def of(cls, e: dict[str, Any]) -> SiteEvent:
        state = e.get("state")
        return cls(e["site"], bool(e["healthy"]), e.get("reason"), state, float(e.get("t", 0.0)))


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """An alert the run sent (:mod:`chiltepin.federation.alerts`): its kind, the site it
    is about (None: the run), and its details, as in the payload delivered."""

    kind: str
    site: str | None
    details: dict[str, Any]
    at: float

    def event(self) -> dict[str, Any]:
        out: dict[str, Any] = {"e": ALERT, "alert": self.kind}
        if self.site is not None:
            out["site"] = self.site
        return {**out, "details": self.details, "t": self.at}


@dataclass(frozen=True, slots=True)
class EstimatesEvent:
    sites: list[dict[str, Any]]

    def event(self) -> dict[str, Any]:
        return {"e": ESTIMATES, "sites": self.sites}


@dataclass(frozen=True, slots=True)
class VersionsEvent:
    """What a site's workers run (the version pre-flight's answer)."""

    site: str
    versions: dict[str, Any]

    def event(self) -> dict[str, Any]:
        return {"e": VERSIONS, "site": self.site, "versions": self.versions}


@dataclass(frozen=True, slots=True)
class SiteStatus:
    """One site as the running client sees it: its health, what it has, and what
    placement believes of it. ``state`` is an endpoint's named state
    (:class:`~chiltepin.federation.backends.status.EndpointState`; None for a local site);
    ``workers`` is None while the site has not said how many it has, ``idle`` (those of
    them running no task) and ``blocks_running``/``blocks_pending`` (its batch jobs
    started and still queued) likewise, and for good where the site never says (an
    endpoint's status carries no blocks); the estimates are None before their first
    sample."""

    site: str
    healthy: bool
    reason: str | None = None
    state: str | None = None
    workers: int | None = None
    idle: int | None = None
    blocks_running: int | None = None
    blocks_pending: int | None = None
    capacity: int = 0
    outstanding: int = 0
    window: int = 0
    expected_s: float | None = None
    run_s: float | None = None
    queue_wait_s: float | None = None
    failure_rate: float = 0.0

    def fields(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, fields: dict[str, Any]) -> SiteStatus:
        return cls(**{f.name: fields[f.name] for f in dataclass_fields(cls) if f.name in fields})


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """The live status a running client already knows, written by the run for every
    reader (the dashboard, metrics) so none of them asks a service: per site
    (:class:`SiteStatus`), the tasks held on the client, the run's tasks by state, and
    the cost so far against the budget. Written at most about once a second and only
    when something changed, so its bytes grow with the run's time, not its tasks.
    ``pid`` and ``host`` name the client that writes it: a reader on that host can tell
    a quiet live run from a killed one."""

    at: float
    sites: tuple[SiteStatus, ...]
    held: int = 0
    states: dict[str, int] = field(default_factory=dict)  # TaskState value → count
    spent: float | None = None
    budget: float | None = None
    unit: str = ""
    pid: int = 0
    host: str = ""

    def event(self) -> dict[str, Any]:
        out: dict[str, Any] = {"e": STATUS, "t": self.at, "held": self.held}
        out["states"] = {k: v for k, v in self.states.items() if v}
        out["sites"] = [s.fields() for s in self.sites]
        if self.budget is not None:
            out |= {"spent": self.spent, "budget": self.budget, "unit": self.unit}
        return out | {"pid": self.pid, "host": self.host}

    @classmethod
    def of(cls, e: dict[str, Any]) -> StatusEvent:
        return cls(
            at=float(e["t"]),
            sites=tuple(SiteStatus.of(dict(s)) for s in e["sites"]),
            held=int(e.get("held", 0)),
            states={str(k): int(v) for k, v in dict(e.get("states") or {}).items()},
            spent=e.get("spent"),
            budget=e.get("budget"),
            unit=str(e.get("unit", "")),
            pid=int(e.get("pid", 0)),
            host=str(e.get("host", "")),
        )


Direction = Literal["in", "out"]
TransferState = Literal["active", "ok", "failed"]


@dataclass(frozen=True, slots=True)
class TransferEvent:
    """One batch of staging the run handed to the Stager, as it started (``active``)
    and as it ended (``ok`` or ``failed``): one line per batch, never per task, so a
    million tasks sharing an input write a handful. A batch that went to Globus Transfer
    ends with one line per Transfer task (``task`` its id, ``files`` and ``bytes`` what
    the service says it transferred); local copies end with one line per source and
    destination. ``source`` and ``destination`` are the collections as the pairs name
    them (``local``: this machine's file system); ``files`` and ``bytes`` count what was
    written (a file already identical at the destination is not); ``error`` is the
    first failure's first line."""

    at: float
    direction: Direction
    source: str
    destination: str
    state: TransferState
    pairs: int
    files: int = 0
    bytes: int = 0
    error: str | None = None
    task: str | None = None

    def event(self) -> dict[str, Any]:
        out: dict[str, Any] = {"e": TRANSFER, "t": self.at, "dir": self.direction}
        out |= {"src": self.source, "dst": self.destination, "state": self.state}
        out["pairs"] = self.pairs
        if self.state != "active":
            out |= {"files": self.files, "bytes": self.bytes}
        if self.error is not None:
            out["err"] = self.error
        if self.task is not None:
            out["task"] = self.task
        return out

    @classmethod
    def of(cls, e: dict[str, Any]) -> TransferEvent:
        direction, state = e["dir"], e["state"]
        if direction not in get_args(Direction) or state not in get_args(TransferState):
            raise BadLine(f"transfer direction {direction!r} or state {state!r} unknown")
        return cls(
            at=float(e["t"]),
            direction=direction,
            source=_text(e["src"], "src"),
            destination=_text(e["dst"], "dst"),
            state=state,
            pairs=int(e["pairs"]),
            files=int(e.get("files", 0)),
            bytes=int(e.get("bytes", 0)),
            error=e.get("err"),
            task=e.get("task"),
        )


AgentState = Literal["launched", "ended", "failed"]


@dataclass(frozen=True, slots=True)
class AgentEvent:
    """An Academy agent's life on the federation (:mod:`chiltepin.federation.agents`): one
    line as each launch of it is handed to the federation (``launched``; ``launch`` 2 and
    up are its move to a fallback site after its site was lost, or Academy's restarts of
    it after it failed) and one as that launch
    ends (``ended`` when the agent shut down, ``failed`` with the error's first line). An
    agent holds a worker through one federation task (``task``), so where it ran is that
    task's attempt; ``site`` is the site it was pinned to. Its id is Academy's agent id,
    under its own key (``ag``), so no reader takes it for a task's."""

    at: float
    agent: str
    name: str
    state: AgentState
    launch: int
    task: str
    site: str | None = None
    error: str | None = None

    def event(self) -> dict[str, Any]:
        out: dict[str, Any] = {"e": AGENT, "t": self.at, "ag": self.agent, "cls": self.name}
        out |= {"state": self.state, "n": self.launch, "task": self.task}
        if self.site is not None:
            out["site"] = self.site
        if self.error is not None:
            out["err"] = self.error
        return out

    @classmethod
    def of(cls, e: dict[str, Any]) -> AgentEvent:
        state = e["state"]
        if state not in get_args(AgentState):
            raise BadLine(f"agent state {state!r} unknown")
        return cls(
            at=float(e["t"]),
            agent=_text(e["ag"], "ag"),
            name=_text(e["cls"], "cls"),
            state=state,
            launch=int(e["n"]),
            task=_text(e["task"], "task"),
            site=e.get("site"),
            error=e.get("err"),
        )


Event = (
    Header
    | FunctionEvent
    | TaskEvent
    | AttemptEvent
    | RemoteEvent
    | DoneEvent
    | SiteEvent
    | EstimatesEvent
    | VersionsEvent
    | AlertEvent
    | StatusEvent
    | TransferEvent
    | AgentEvent
)


def _ran_fields(ran: dict[str, Any]) -> list[Any]:
    """The probe's record as a list: job, nodes, host, start, and its run time in place
    of its end (both to the microsecond), which is shorter."""
    start, end = ran.get("start"), ran.get("end")
    took = round(end - start, 6) if start is not None and end is not None else None
    start = round(start, 6) if start is not None else None
    return [ran.get("job"), ran.get("nodes"), ran.get("host"), start, took]


def _ran(fields: list[Any]) -> dict[str, Any]:
    job, nodes, host, start, took = fields
    end = start + took if start is not None and took is not None else None
    return {"job": job, "nodes": nodes, "host": host, "start": start, "end": end}


def _via(e: dict[str, Any]) -> TaskState:
    """The move that started an attempt, from its line (format 1 and 2 alike)."""
    if e.get("fo"):
        return TaskState.FAILED_OVER
    if e.get("race"):
        return TaskState.RACED
    return TaskState.PLACED if e["n"] == 1 else TaskState.RETRIED


def _header(event: dict[str, Any]) -> Header:
    version = event.get("v", 1)
    if not isinstance(version, int) or version > VERSION:
        raise JournalFormatError(
            f"journal format {version} is newer than this chiltepin reads"
            f" ({OLDEST} to {VERSION}): upgrade chiltepin to read this run"
        )
    return Header(version, dict(event.get("config") or {}), float(event.get("t", 0.0)))


def _v2(kind: object, e: dict[str, Any]) -> Event:
    if kind == TASK:
        return TaskEvent(e["id"], int(e["f"]), "", Stored.of(e, "a"), TaskOptions.of(e))
    if kind == ATTEMPT:
        return AttemptEvent(
            e["id"], e["n"], e["s"], e.get("o", {}), e.get("rs", {}), _via(e), e["t"]
        )
    if kind == REMOTE:
        return RemoteEvent(e["id"], e["n"], e["rid"], e.get("tg"))
    if kind == DONE:
        ran = _ran(e["ran"]) if "ran" in e else None
        finished = e["t"] if ran is None else ran["end"]
        ok = bool(e["ok"])
        return DoneEvent(e["id"], e["n"], ok, e.get("k", "value"), Stored.of(e, "r"), ran, finished)
    if kind == FUNCTION:
        return FunctionEvent(int(e["f"]), _text(e["name"], "name"), Stored.of(e, "fn"))
    if kind == SITE:
        return SiteEvent.of(e)
    if kind == ESTIMATES:
        return EstimatesEvent(list(e["sites"]))
    if kind == ALERT:
        return AlertEvent(_text(e["alert"], "alert"), e.get("site"), dict(e["details"]), e["t"])
    if kind == VERSIONS:
        return VersionsEvent(e["site"], dict(e["versions"]))
    if kind == STATUS:
        return StatusEvent.of(e)
    if kind == TRANSFER:
        return TransferEvent.of(e)
    if kind == AGENT:
        return AgentEvent.of(e)
    raise BadLine(f"unknown event {kind!r}")


_V1_META = ("site", "tags", "resources", "allowed", "stage_in", "stage_out")


def _v1(kind: object, e: dict[str, Any]) -> Event:
    """Format 1's events as format 2's records."""
    if kind == "task":
        options = TaskOptions.of(
            {TaskOptions._KEYS[k]: e[k] for k in _V1_META if e.get(k) is not None}
        )
        stored = Stored.of({"a": e["args"]} if "args" in e else {"at": e.get("call")}, "a")
        return TaskEvent(e["id"], None, e["name"], stored, options)
    if kind == "attempt":
        return AttemptEvent(
            e["id"],
            e["n"],
            e["site"],
            e.get("options", {}),
            e.get("resource_specification", {}),
            _via(e),
            e["t"],
        )
    if kind == "remote":
        return RemoteEvent(e["id"], e["n"], e["remote"], e.get("tg"))
    if kind == "done":
        stored = Stored.of({"r": e["payload"]} if "payload" in e else {"at": e.get("at")}, "r")
        return DoneEvent(
            e["id"], e["n"], bool(e["ok"]), e["kind"], stored, e.get("ran"), e["t"], version=1
        )
    if kind == "site":
        return SiteEvent.of(e)
    if kind == "estimates":
        return EstimatesEvent(list(e["sites"]))
    raise BadLine(f"unknown event {kind!r}")


def decode(raw: bytes, version: int) -> Event:
    """The event on one line, read as format ``version`` (a run header sets the version
    of the lines after it). Raises :class:`BadLine` for anything not a whole event."""
    try:
        event = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadLine(f"not JSON ({err.msg if hasattr(err, 'msg') else err})") from None
    if not isinstance(event, dict):
        raise BadLine("not a JSON object")
    kind = event.get("e")
    if kind == RUN:
        return _header(event)
    try:
        return _v2(kind, event) if version >= 2 else _v1(kind, event)
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, BadLine):
            raise
        raise BadLine(f"{kind!r} event with a missing or malformed field ({err})") from None
