"""What staging did, item by item: the typed results every backend reports.

Why one shape for both backends: a task's stage-in may mix Transfer items and local copies,
and the federation (and the user) must read one list that says, for every item, whether it
arrived, how many files it carried, which Transfer task moved it, and if not, why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Backend = Literal["transfer", "local"]
Operation = Literal["copy", "delete"]

# Codes chiltepin adds to the service's own (FILE_NOT_FOUND, PERMISSION_DENIED, ...).
TIMEOUT = "TIMEOUT"
CONSENT_REQUIRED = "CONSENT_REQUIRED"
NOT_TRANSFERRED = "NOT_TRANSFERRED"
SUBMIT_FAILED = "SUBMIT_FAILED"
VERIFY_CHECKSUM = "VERIFY_CHECKSUM"


@dataclass(frozen=True)
class ItemResult:
    """One staged (or deleted) item: a file or a directory tree.

    ``files`` counts the files written for this item (0 when the destination already held
    identical content); ``None`` when the backend cannot tell (a failed Transfer task).
    """

    source: str
    destination: str | None
    ok: bool
    backend: Backend
    operation: Operation = "copy"
    task_id: str | None = None
    code: str | None = None
    reason: str | None = None
    files: int | None = None
    bytes: int | None = None

    def describe(self) -> str:
        """``source -> destination: CODE: reason`` (or ``... ok``)."""
        what = self.source if self.destination is None else f"{self.source} -> {self.destination}"
        if self.ok:
            return f"{what}: ok"
        task = f" [Transfer task {self.task_id}]" if self.task_id else ""
        return f"{what}: {self.code or 'FAILED'}: {self.reason or 'unknown failure'}{task}"


@dataclass(frozen=True)
class TaskResult:
    """One Globus Transfer (or Delete) task chiltepin submitted, as it ended."""

    task_id: str
    kind: Literal["TRANSFER", "DELETE"]
    source_collection: str
    destination_collection: str | None
    items: int
    status: str
    fatal_error: dict[str, str] | None = None
    files_transferred: int = 0
    files_skipped: int = 0
    bytes_transferred: int = 0
    cancelled: bool = False


@dataclass
class StagingReport:
    """Everything one ``Stager.stage`` / ``Stager.delete`` call did."""

    items: list[ItemResult] = field(default_factory=list)
    tasks: list[TaskResult] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.items)

    @property
    def failed(self) -> list[ItemResult]:
        return [i for i in self.items if not i.ok]

    @property
    def succeeded(self) -> list[ItemResult]:
        return [i for i in self.items if i.ok]

    @property
    def files(self) -> int:
        return sum(i.files or 0 for i in self.items)

    @property
    def bytes(self) -> int:
        return sum(i.bytes or 0 for i in self.items)

    def summary(self) -> str:
        tasks = f", {len(self.tasks)} Transfer task(s)" if self.tasks else ""
        return (
            f"{len(self.succeeded)} of {len(self.items)} items staged, {self.files} files"
            f"{tasks}, {self.elapsed_s:.1f} s"
        )
