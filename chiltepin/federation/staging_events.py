"""A staging batch as journal events: what the dashboard's transfers panel and metrics read.

The run's :class:`~chiltepin.federation.staging.StagingQueue` hands the Stager a batch of
pairs at a time; these functions turn one batch into a few
:class:`~chiltepin.federation.journal_format.TransferEvent` lines: one per source and
destination as it starts, and as it ends one per Globus Transfer task (the service's own
count of files and bytes) or, for local copies and for pairs that never reached a Transfer
task, one per source and destination (the copier's count). A batch is grouped by the
collections its pairs name, not by the collection Transfer resolved them to, so the
started and ended lines of one batch name the same pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chiltepin.federation.journal_format import Direction, TransferEvent
from chiltepin.staging import ItemResult, Location, StagingReport

Pair = tuple[Location, Location]
LOCAL = "local"  # a file:// side: this machine's file system


def endpoint(location: Location) -> str:
    """The collection a location names (as written), or :data:`LOCAL`."""
    return (location.collection or "") if location.is_globus else LOCAL


def first_line(text: str) -> str:
    return next((s.strip() for s in text.splitlines() if s.strip()), text.strip())


def _ends(pair: Pair) -> tuple[str, str]:
    return endpoint(pair[0]), endpoint(pair[1])


def started(direction: Direction, batch: Sequence[Pair], at: float) -> list[TransferEvent]:
    """One ``active`` event per source and destination of the batch."""
    counts: dict[tuple[str, str], int] = {}
    for pair in batch:
        counts[_ends(pair)] = counts.get(_ends(pair), 0) + 1
    return [TransferEvent(at, direction, src, dst, "active", n) for (src, dst), n in counts.items()]


def refused(
    direction: Direction, batch: Sequence[Pair], error: BaseException, at: float
) -> list[TransferEvent]:
    """The batch failed before anything moved (a bad collection, the service unreachable):
    one ``failed`` event per source and destination, with the error's first line."""
    reason = first_line(str(error)) or type(error).__name__
    return [
        TransferEvent(at, direction, e.source, e.destination, "failed", e.pairs, error=reason)
        for e in started(direction, batch, at)
    ]


@dataclass
class _Group:
    source: str
    destination: str
    items: list[ItemResult]


def ended(
    direction: Direction, batch: Sequence[Pair], report: StagingReport, at: float
) -> list[TransferEvent]:
    """How the batch ended (``report.items`` in the batch's order): one event per Transfer
    task, and one per source and destination of what no Transfer task carried."""
    groups: dict[tuple[str, str] | str, _Group] = {}
    for pair, item in zip(batch, report.items, strict=True):
        src, dst = _ends(pair)
        key = item.task_id if item.backend == "transfer" and item.task_id else (src, dst)
        groups.setdefault(key, _Group(src, dst, [])).items.append(item)
    tasks = {t.task_id: t for t in report.tasks}
    events = []
    for key, group in groups.items():
        failed = next((i for i in group.items if not i.ok), None)
        task = tasks.get(key) if isinstance(key, str) else None
        if task is not None:  # the service's count, which items of a tree do not carry
            files, size = task.files_transferred, task.bytes_transferred
        else:
            files = sum(i.files or 0 for i in group.items)
            size = sum(i.bytes or 0 for i in group.items)
        error = None
        if failed is not None:
            error = first_line(f"{failed.code or 'FAILED'}: {failed.reason or 'unknown failure'}")
        events.append(
            TransferEvent(
                at,
                direction,
                group.source,
                group.destination,
                "ok" if failed is None else "failed",
                len(group.items),
                files,
                size,
                error,
                key if isinstance(key, str) else None,
            )
        )
    return events
