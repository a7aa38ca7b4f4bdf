"""The cluster directory's record of what is running: ``<dir>/cluster.json``.

The daemons outlive the process that started them (``chiltepin cluster up`` returns at once), so
``down``, ``status`` and a second ``up`` learn the resolved spec (ports included) and the daemon
PIDs from this file. Each PID is stored with its start time: a PID alone may have been recycled
by the time ``down`` runs, and signalling a stranger is exactly what must never happen.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chiltepin.cluster.config import ClusterSpec
from chiltepin.errors import ChiltepinError
from chiltepin.system.files import write_atomically
from chiltepin.system.spawn import ProcessRecord

STATE_FILE = "cluster.json"
LOCK_FILE = ".lock"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class DaemonRecord(ProcessRecord):
    """One daemon this cluster started: ``slurmctld`` or the slurmd of one node."""

    name: str

    @classmethod
    def of(cls, name: str, record: ProcessRecord) -> DaemonRecord:
        return cls(record.pid, record.start_time, record.command, name=name)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, **super().to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DaemonRecord:
        return cls.of(str(data["name"]), ProcessRecord.from_json(data))


@dataclass
class ClusterState:
    """Contents of ``cluster.json``."""

    spec: ClusterSpec
    daemons: dict[str, DaemonRecord] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    stopped_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "spec": self.spec.model_dump(mode="json"),
            "daemons": {name: d.to_json() for name, d in self.daemons.items()},
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterState:
        return cls(
            spec=ClusterSpec.model_validate(data["spec"]),
            daemons={
                name: DaemonRecord.from_json(d) for name, d in data.get("daemons", {}).items()
            },
            started_at=float(data.get("started_at", 0.0)),
            stopped_at=data.get("stopped_at"),
        )


class ClusterStateError(ChiltepinError):
    """``cluster.json`` exists but cannot be read."""


def state_path(directory: Path) -> Path:
    return directory / STATE_FILE


def load_state(directory: Path) -> ClusterState | None:
    """The recorded state of the cluster in ``directory``, or ``None`` when there is none."""
    path = state_path(directory)
    try:
        return ClusterState.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, ValidationError) as err:
        raise ClusterStateError(
            f"{path}: unreadable cluster record ({err.__class__.__name__}: {err}); if no daemon "
            "of this cluster runs any more, delete the file"
        ) from None


def save_state(directory: Path, state: ClusterState) -> None:
    """Write ``cluster.json`` atomically (rename), so a crash never leaves half a record."""
    path = state_path(directory)
    write_atomically(path, json.dumps(state.to_json(), indent=2) + "\n")


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Serialise ``up``/``down`` on one cluster directory across processes."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
