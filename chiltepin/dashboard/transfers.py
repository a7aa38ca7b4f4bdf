"""A run's data staging as the dashboard shows it: per direction, source and destination.

The run journals each staging batch as it starts and ends
(:class:`~chiltepin.federation.journal_format.TransferEvent`, a few lines per batch);
this keeps one tally per (direction, source, destination), so its size grows with the
collections a run uses, not with its batches. Pairs in flight are those of batches that
started and have not ended; a run killed mid-transfer leaves them in flight, as it left
them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from chiltepin.federation.journal_format import TransferEvent

Key = tuple[str, str, str]  # direction, source, destination


@dataclass
class TransferTally:
    """Batches that ended between one source and destination in one direction: how many
    ended ok or failed, the pairs, files and bytes they carried, the pairs still in
    flight, and the last failure's first line (with its Transfer task, if any)."""

    direction: str
    source: str
    destination: str
    batches: int = 0
    ok: int = 0
    failed: int = 0
    pairs: int = 0
    in_flight: int = 0
    files: int = 0
    bytes: int = 0
    last_error: str | None = None
    last_task: str | None = None
    updated: float = 0.0


class Transfers:
    """The run's transfer tallies, fed one :class:`TransferEvent` at a time."""

    def __init__(self) -> None:
        self._tallies: dict[Key, TransferTally] = {}

    def add(self, event: TransferEvent) -> None:
        key = (event.direction, event.source, event.destination)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = TransferTally(*key)
        tally.updated = max(tally.updated, event.at)
        if event.state == "active":
            tally.in_flight += event.pairs
            return
        # A batch's pairs may end under another name of the same collection than they
        # started under (one Transfer task for both): never count below none in flight.
        tally.in_flight = max(0, tally.in_flight - event.pairs)
        tally.batches += 1
        tally.pairs += event.pairs
        tally.files += event.files
        tally.bytes += event.bytes
        if event.state == "ok":
            tally.ok += 1
        else:
            tally.failed += 1
            tally.last_error, tally.last_task = event.error, event.task

    def rows(self) -> list[dict[str, Any]]:
        """Each tally as JSON-ready values, inputs first, then by source and destination."""
        return [asdict(self._tallies[key]) for key in sorted(self._tallies)]

    def state(self) -> list[dict[str, Any]]:
        """What :meth:`of` takes up again (the view's snapshot)."""
        return self.rows()

    @classmethod
    def of(cls, state: list[dict[str, Any]]) -> Transfers:
        transfers = cls()
        for row in state:
            tally = TransferTally(**row)
            transfers._tallies[(tally.direction, tally.source, tally.destination)] = tally
        return transfers
