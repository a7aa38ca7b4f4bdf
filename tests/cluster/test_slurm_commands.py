"""``scontrol show ... -o`` read one way, for the cluster and the self-test alike."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

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


#: ``scontrol show job -o`` of a single-host cluster (Slurm 22.05), captured: job 1 ran 2 s
#: and completed, job 2 was cancelled while running, job 3 while pending (``--begin``), and
#: job 4 was running on two nodes.
JOBS = (Path(__file__).parent / "scontrol_show_job.txt").read_text()


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def test_job_records_take_slurm_s_own_start_and_end() -> None:
    done, cut, *_ = slurm.job_records(JOBS)
    assert done == slurm.JobRecord(
        "1", "COMPLETED", 1, _at("2026-12-07T15:18:17"), _at("2026-12-07T15:18:19")
    )
    assert (cut.state, cut.start, cut.end) == (
        "CANCELLED",
        _at("2026-12-07T15:18:17"),
        _at("2026-12-07T15:18:21"),
    )


def test_a_job_that_never_ran_or_has_not_ended_has_no_such_time() -> None:
    _, _, never, running = slurm.job_records(JOBS)
    # cancelled while pending: Slurm sets StartTime and EndTime to the cancel, on no node
    assert (never.job_id, never.state, never.start, never.end) == ("3", "CANCELLED", None, None)
    assert (running.nodes, running.start, running.end) == (2, _at("2026-12-07T15:18:22"), None)
    pending = JOBS.splitlines()[3].replace("JobState=RUNNING", "JobState=PENDING")
    assert slurm.job_records(pending)[0].start is None  # a pending StartTime is a forecast


def test_no_jobs_is_no_records() -> None:
    assert slurm.job_records("No jobs in the system\n") == []
