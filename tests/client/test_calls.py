"""Serialising a task's call: the C-pickler shortcut and the two forms of the probe.

Both run for real: the payloads are loaded by the SDK's own deserializer and executed by
the endpoint's own worker function (``execute_task``) in a separate interpreter.
"""

from __future__ import annotations

import base64
import collections
import pickle
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from globus_compute_sdk.serialize import ComputeSerializer

from chiltepin.client.calls import SERIALIZER, Call, CallSerializer, SerializedArgs
from chiltepin.probe import chiltepin_probe, record

PLAIN = [
    7,
    -1.5,
    None,
    True,
    "text",
    b"\x00bytes",
    (1, "a", None),
    [1, [2, [3, {"k": (4.0, b"v")}]]],
    {1, 2},
    frozenset({"x"}),
    {"nested": {"list": [1, 2], "complex": 1 + 2j}},
]


DEEP: list[object] = [1]
for _ in range(40):
    DEEP = [DEEP]


class Local:
    """Defined in a test module: pickled by reference, so dill must handle it."""

    def __init__(self, value: int) -> None:
        self.value = value


@pytest.mark.parametrize("value", PLAIN, ids=lambda v: type(v).__name__)
def test_plain_data_is_pickled_by_the_c_pickler_and_reads_back_with_the_sdk(value: object) -> None:
    payload = CallSerializer().serialize(value)
    header, body = payload.split("\n", 1)
    assert header == "00"  # the dill data strategy, as the SDK would label it
    assert base64.b64decode(body) == pickle.dumps(value, pickle.DEFAULT_PROTOCOL)
    assert ComputeSerializer().deserialize(payload) == value


@pytest.mark.parametrize(
    "value",
    [
        (lambda x: x + 1,),
        collections.OrderedDict(a=1),  # a subclass of dict: not plain
        [Local(3)],
        {"deep": DEEP},
    ],
    ids=["lambda", "OrderedDict", "object", "too-deep"],
)
def test_anything_else_goes_to_dill_unchanged(value: object) -> None:
    assert CallSerializer().serialize(value) == ComputeSerializer().serialize(value)


def test_serialized_args_are_sent_as_they_are() -> None:
    call = Call.of(SERIALIZER.serialize(abs), (-3,), {})
    assert CallSerializer().serialize(call.sdk_args) == call.arguments
    assert isinstance(call.sdk_args, SerializedArgs) and call.sdk_args[1] == (-3,)
    restored = Call.restore(call.arguments)
    assert (restored.args, restored.kwargs, restored.function) == ((-3,), {}, call.function)


WORKER = textwrap.dedent(
    """
    import sys, uuid
    if sys.argv[2] == "hide":
        sys.modules["chiltepin"] = None  # this worker's environment lacks chiltepin
    from globus_compute_common import messagepack
    from globus_compute_common.messagepack.message_types import Task
    from globus_compute_endpoint.engines.helper import execute_task
    from globus_compute_sdk.serialize import ComputeSerializer
    task_id = uuid.uuid4()
    body = messagepack.pack(Task(task_id=task_id, task_buffer=open(sys.argv[1]).read()))
    result = messagepack.unpack(execute_task(body, task_id, run_dir=sys.argv[3]))
    if result.is_error:
        print("ERROR", result.data.strip().splitlines()[-1])
    else:
        print("VALUE", ComputeSerializer().deserialize(result.data))
    """
)


def run_on_worker(tmp_path: Path, buffer: str, environment: str) -> str:
    (tmp_path / "task").write_text(buffer)
    argv = [sys.executable, "-c", WORKER, str(tmp_path / "task"), environment, str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_portable_probe_runs_where_chiltepin_is_not_installed(tmp_path: Path) -> None:
    call = Call.of(SERIALIZER.serialize(divmod), (17, 5), {})
    by_value = call.buffer(probe_by_reference=False)
    by_reference = call.buffer(probe_by_reference=True)
    assert len(by_reference) < len(by_value) / 5  # what local workers are spared per task

    output = run_on_worker(tmp_path, by_value, "hide")
    assert output.startswith("VALUE ((3, 2), ("), output
    assert run_on_worker(tmp_path, by_reference, "installed").startswith("VALUE ((3, 2), (")
    # By reference it needs chiltepin on the worker, which is why only local engines
    # whose workers share this environment get it.
    assert "No module named 'chiltepin" in run_on_worker(tmp_path, by_reference, "hide")


def test_the_probe_record_says_where_and_when_the_task_ran(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("PBS_JOBID", "PBS_NODEFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_JOB_NUM_NODES", "2")
    monkeypatch.setenv("SLURMD_NODENAME", "node7")
    before = time.time()
    value, raw = chiltepin_probe(SERIALIZER.serialize(divmod), (17, 5), {})
    after = time.time()

    assert value == (3, 2)
    ran = record(raw)
    assert list(ran) == ["job", "nodes", "host", "start", "end"]
    assert ran["job"] == "4242"
    assert ran["nodes"] == 2
    assert ran["host"] == "node7"
    assert before <= ran["start"] <= ran["end"] <= after
    with pytest.raises(ValueError):
        record(raw[:4])


def test_the_probe_record_outside_slurm_counts_pbs_nodes_or_names_the_parsl_block(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("SLURM_JOB_ID", "SLURM_JOB_NUM_NODES", "SLURMD_NODENAME", "PBS_JOBID"):
        monkeypatch.delenv(name, raising=False)
    nodefile = tmp_path / "nodes"
    nodefile.write_text("n1\nn2\nn1\n\nn3\n")  # one line per core: three distinct nodes
    monkeypatch.setenv("PBS_JOBID", "77.pbs")
    monkeypatch.setenv("PBS_NODEFILE", str(nodefile))
    _, raw = chiltepin_probe(SERIALIZER.serialize(abs), (-1,), {})
    assert (record(raw)["job"], record(raw)["nodes"]) == ("77.pbs", 3)
    assert record(raw)["host"] == socket.gethostname()

    monkeypatch.delenv("PBS_JOBID")
    monkeypatch.delenv("PBS_NODEFILE")
    monkeypatch.setenv("PARSL_WORKER_BLOCK_ID", "5")
    _, raw = chiltepin_probe(SERIALIZER.serialize(abs), (-1,), {})
    assert (record(raw)["job"], record(raw)["nodes"]) == ("block-5", 1)
