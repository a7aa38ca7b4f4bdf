"""The agent event (``ag``): written by the journal, read back as it was, refused when
malformed, gathered by the reader, and counted by nothing that counts tasks."""

from __future__ import annotations

from pathlib import Path

import pytest

from chiltepin.federation.journal import Journal, count_states, read_journal
from chiltepin.federation.journal_format import VERSION, AgentEvent, BadLine, decode, line

AGENT = "6f1c1d1e-8a55-4c1b-9a0e-4b1f4a2f0c11"
EVENTS = [
    AgentEvent(1.5, AGENT, "Counter", "launched", 1, "t000003", "a"),
    AgentEvent(9.0, AGENT, "Counter", "failed", 1, "t000003", "a", "worker lost"),
    AgentEvent(9.5, AGENT, "Counter", "launched", 2, "t000004", "a"),
    AgentEvent(20.0, AGENT, "Counter", "ended", 2, "t000004", "a"),
]


@pytest.mark.parametrize("event", EVENTS)
def test_an_agent_event_round_trips(event: AgentEvent) -> None:
    assert decode(line(event.event()), VERSION) == event


def test_its_id_is_not_under_a_tasks_key() -> None:
    """Readers that pass over ended tasks find a task's id after ``"id":"``: an agent's
    id must never be taken for one."""
    assert b'"id"' not in line(EVENTS[0].event())


@pytest.mark.parametrize(
    "raw",
    [
        b'{"e":"ag","t":1,"ag":"x","cls":"C","state":"asleep","n":1,"task":"t1"}',
        b'{"e":"ag","t":1,"ag":"x","cls":"C","state":"ended","task":"t1"}',
        b'{"e":"ag","t":1,"ag":7,"cls":"C","state":"ended","n":1,"task":"t1"}',
        b'{"e":"ag","t":"soon","ag":"x","cls":"C","state":"ended","n":1,"task":"t1"}',
    ],
)
def test_a_malformed_agent_line_is_a_bad_line(raw: bytes) -> None:
    with pytest.raises(BadLine):
        decode(raw, VERSION)


def test_the_journal_writes_them_and_counts_no_task_for_them(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.run({"sites": {}})
    for event in EVENTS:
        journal.agent(event)
    journal.close()
    journal.agent(EVENTS[0])  # an agent ending after the run closed: dropped
    record = read_journal(tmp_path)
    assert record.agents == EVENTS
    assert record.skipped == []
    assert count_states(tmp_path).as_dict()["tasks"] == 0
