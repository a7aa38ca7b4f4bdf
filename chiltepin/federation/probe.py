"""The probe: what every task runs on its worker, around the user's function.

A run report needs to know where each task really ran (batch job, node), and when it
started and ended there; neither Globus Compute results nor Parsl futures carry that back
to a client. So chiltepin registers one small function, the probe, and submits each task
as ``probe(serialised_function, args, kwargs)``: it runs the function and returns its value
together with that record. The user's exception propagates unchanged, so failures look
exactly as they would without it.

The probe must run where chiltepin is not installed (a remote HPC endpoint has only
globus-compute-endpoint and the user's environment), so it is built from source into a
namespace of its own and serialised by value: it imports nothing but the standard library
and the Globus Compute SDK that every worker has.
"""

from __future__ import annotations

import builtins
from typing import Any

_SOURCE = '''
def chiltepin_probe(function, args, kwargs):
    """Run a chiltepin task: the function serialised by the client, then its record."""
    import os
    import socket
    import time

    from globus_compute_sdk.serialize import ComputeSerializer

    started = time.time()
    value = ComputeSerializer().deserialize(function)(*args, **kwargs)
    env = os.environ
    job = env.get("SLURM_JOB_ID") or env.get("PBS_JOBID")
    nodes = env.get("SLURM_JOB_NUM_NODES")
    if nodes is None and env.get("PBS_NODEFILE"):
        try:
            with open(env["PBS_NODEFILE"]) as f:
                nodes = len({line.strip() for line in f if line.strip()})
        except OSError:
            nodes = None
    return value, {
        "job": job or ("block-" + env.get("PARSL_WORKER_BLOCK_ID", "?")),
        "nodes": int(nodes) if nodes else 1,
        "host": env.get("SLURMD_NODENAME") or socket.gethostname(),
        "start": started,
        "end": time.time(),
    }
'''


def _build() -> Any:
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    exec(compile(_SOURCE, "<chiltepin probe>", "exec"), namespace)
    return namespace["chiltepin_probe"]


probe = _build()
"""The function every task is submitted as."""
