"""``scontrol show ... -o`` read one way, for the cluster and the self-test alike."""

from __future__ import annotations

import pytest

from chiltepin.cluster import slurm

NODES = (
    "NodeName=n1 Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 State=IDLE ThreadsPerCore=1"
    " OS=Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)\n"
    "NodeName=n2 Arch=x86_64 NextState=IDLE State=DOWN+NOT_RESPONDING Reason=chiltepin"
    " [root@2026-12-07T05:00:00]\n"
)


def test_records_read_every_line_into_its_fields() -> None:
    nodes = slurm.records(NODES)
    assert [(n["NodeName"], n["State"]) for n in nodes] == [
        ("n1", "IDLE"),
        ("n2", "DOWN+NOT_RESPONDING"),
    ]
    assert nodes[1]["NextState"] == "IDLE"  # a key ending in State is its own key
    assert nodes[0]["OS"] == "Linux"  # a value with spaces keeps its first word


def test_fields_of_a_job_keep_empty_values() -> None:
    job = slurm.fields("JobId=7 JobState=COMPLETED SubmitTime=2026-12-07T05:00:00 Comment=")
    assert job == {
        "JobId": "7",
        "JobState": "COMPLETED",
        "SubmitTime": "2026-12-07T05:00:00",
        "Comment": "",
    }


def test_a_missing_command_names_itself_and_the_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slurm, "find_binary", lambda name: None)
    with pytest.raises(slurm.SlurmNotInstalled, match=r"^scontrol not found; put it on PATH$"):
        slurm.run(["scontrol", "ping"], hint="put it on PATH")
