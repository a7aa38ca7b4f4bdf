"""The staging event (``tr``): written by the journal, read back as it was, refused when
malformed, and counted by nothing that counts tasks."""

from __future__ import annotations

from pathlib import Path

import pytest

from chiltepin.federation.journal import Journal, count_states, events
from chiltepin.federation.journal_format import (
    VERSION,
    BadLine,
    TransferEvent,
    decode,
    line,
)

EVENTS = [
    TransferEvent(1.5, "in", "home", "site-a", "active", 3),
    TransferEvent(2.25, "in", "home", "site-a", "ok", 3, files=4, bytes=4096, task="t-1"),
    TransferEvent(
        3.0, "out", "local", "local", "failed", 1, error="FILE_NOT_FOUND: /x/out.nc missing"
    ),
]


@pytest.mark.parametrize("event", EVENTS)
def test_a_transfer_event_round_trips(event: TransferEvent) -> None:
    assert decode(line(event.event()), VERSION) == event


def test_a_started_batch_writes_no_counts() -> None:
    assert b'"files"' not in line(EVENTS[0].event())
    assert b'"files":4,"bytes":4096' in line(EVENTS[1].event())


@pytest.mark.parametrize(
    "raw",
    [
        b'{"e":"tr","t":1,"dir":"sideways","src":"a","dst":"b","state":"ok","pairs":1}',
        b'{"e":"tr","t":1,"dir":"in","src":"a","dst":"b","state":"lost","pairs":1}',
        b'{"e":"tr","t":1,"dir":"in","src":"a","dst":"b","state":"ok"}',
        b'{"e":"tr","t":1,"dir":"in","src":7,"dst":"b","state":"ok","pairs":1}',
    ],
)
def test_a_malformed_transfer_line_is_a_bad_line(raw: bytes) -> None:
    with pytest.raises(BadLine):
        decode(raw, VERSION)


def test_the_journal_writes_them_and_counts_no_task_for_them(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.run({"sites": {}})
    for event in EVENTS:
        journal.transfer(event)
    journal.close()
    journal.transfer(EVENTS[0])  # staging settling after the run closed: dropped
    assert [e for e in events(tmp_path) if isinstance(e, TransferEvent)] == EVENTS
    assert count_states(tmp_path).as_dict()["tasks"] == 0
