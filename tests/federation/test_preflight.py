"""The version pre-flight's comparison and what it reads (no endpoint: the reports here are
Globus's own example and the shape globus-compute-endpoint's engine sends)."""

from __future__ import annotations

from globus_sdk.testing.data.compute._common import TASK_DOC

from chiltepin.federation.preflight import (
    Versions,
    client_versions,
    managers_of_status,
    mismatch,
    versions_of_report,
)

CLIENT = Versions(python="3.11.2", dill="0.3.9", sdk="4.19.0")


def test_another_python_minor_and_dill_are_named_with_the_fix() -> None:
    # Debian 12 has one Python, so a worker on another minor cannot run here. This is the
    # environment report Globus's service returns for a real worker (its get_task example:
    # Python 3.10.4, dill 0.3.5.1), read and compared exactly as a live one is.
    workers = versions_of_report(TASK_DOC["details"])
    assert workers == Versions(python="3.10.4", dill="0.3.5.1", sdk="2.3.2")
    problem = mismatch("hera", CLIENT, workers)
    assert problem is not None
    assert "Python 3.10.4 on its workers, 3.11.2 here" in problem
    assert "dill 0.3.5.1 on its workers, 0.3.9 here" in problem
    assert "worker_init" in problem and "Python 3.11 and dill 0.3.9" in problem
    assert "functions_as_source" in problem


def test_same_minor_and_dill_pass_and_unknowns_do_not_block() -> None:
    assert mismatch("a", CLIENT, Versions(python="3.11.9", dill="0.3.9", sdk="4.18.0")) is None
    assert mismatch("a", CLIENT, Versions(python=None, dill=None, sdk=None)) is None


def test_client_versions_are_this_process() -> None:
    import platform

    import dill

    mine = client_versions()
    assert mine.python == platform.python_version() and mine.dill == dill.__version__


def test_managers_of_status_reads_the_engines_node_info() -> None:
    details = {
        "total_workers": 2,
        "node_info": {
            "1234": [
                {
                    "worker_count": 2,
                    "idle_duration": 0.5,
                    "parsl_version": "2026.10.26",
                    "endpoint_version": "4.19.0",
                    "sdk_version": "4.19.0",
                    "python_version": "3.11.2",
                }
            ]
        },
    }
    assert managers_of_status(details) == [
        {
            "job": "1234",
            "python_version": "3.11.2",
            "sdk_version": "4.19.0",
            "endpoint_version": "4.19.0",
            "parsl_version": "2026.10.26",
            "worker_count": 2,
        }
    ]
    assert managers_of_status({"total_workers": 1}) == []
