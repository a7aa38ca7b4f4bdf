"""The probe: what every federation task runs on its worker, around the user's function.

A run report needs to know where each task really ran (batch job, node) and when it
started and ended there; neither Globus Compute results nor Parsl futures carry that back
to a client. So each task is ``chiltepin_probe(serialised_function, args, kwargs)``: it
runs the function and returns its value with that record. The user's exception
propagates unchanged, so failures look exactly as they would without it.

The probe travels in one of two forms:

- by reference (``chiltepin.probe.chiltepin_probe``) to the workers of an embedded engine
  that run in this client's own environment: a few bytes per task that load with an
  import the worker does once;
- by value (:func:`portable_probe`) to everything else, such as a remote endpoint whose
  workers have only globus-compute-endpoint and the user's environment. It is registered
  with the service once per run, and its body imports nothing but the standard library
  and the Globus Compute SDK that every worker has.

This module is top-level and imports nothing, so a worker that loads the probe by
reference pays for this file alone, not for the client side of chiltepin.
"""

from __future__ import annotations

import builtins
import functools
import types
from typing import Any

RECORD_FIELDS = ("job", "nodes", "host", "start", "end")
"""What the probe's record tuple holds, in order (a tuple pickles faster than a dict)."""


def chiltepin_probe(function: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # No docstring: the by-value form would carry it to every worker.
    import os
    import socket
    import time

    from globus_compute_sdk.serialize import ComputeSerializer

    started = time.time()
    value = ComputeSerializer().deserialize(function)(*args, **kwargs)
    env = os.environ
    job = env.get("SLURM_JOB_ID") or env.get("PBS_JOBID")
    nodes: str | int | None = env.get("SLURM_JOB_NUM_NODES")
    if nodes is None and env.get("PBS_NODEFILE"):
        try:
            with open(env["PBS_NODEFILE"]) as f:
                nodes = len({line.strip() for line in f if line.strip()})
        except OSError:
            nodes = None
    return value, (
        job or ("block-" + env.get("PARSL_WORKER_BLOCK_ID", "?")),
        int(nodes) if nodes else 1,
        env.get("SLURMD_NODENAME") or socket.gethostname(),
        started,
        time.time(),
    )


@functools.cache
def portable_probe() -> types.FunctionType:
    """The probe as a function of no importable module, so it is serialised by value."""
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    return types.FunctionType(chiltepin_probe.__code__, namespace, chiltepin_probe.__name__)


def record(raw: tuple[Any, ...]) -> dict[str, Any]:
    """The probe's record as the federation, the journal and the report keep it (``ran``:
    where and when the task ran, keyed by :data:`RECORD_FIELDS`)."""
    return dict(zip(RECORD_FIELDS, raw, strict=True))
