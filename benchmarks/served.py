"""Candidates measured in processes of their own, in rounds.

A stack that runs in the measuring process shares its interpreter (the GIL, the garbage
collector, threads left over) with the others; each candidate here is a spawned process
that starts its stack, says ``"ready"``, then answers every ``True`` on its pipe with one
sample and stops on ``False``. The throughput benchmarks share this.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from benchmarks.figures import Rounds


def rounds_in_processes(
    serve: Callable[..., None],
    candidates: dict[str, Sequence[Any]],
    rounds: int,
    *,
    start_s: float = 300.0,
    rotate: bool = False,
) -> Rounds:
    """Start ``serve(*args, conn)`` in a spawned process for each ``name: args`` of
    ``candidates``, wait for all to be ready (``start_s`` each at most), take ``rounds``
    rounds of their samples, and stop every process, by its PID if it does not exit.

    Raises :class:`RuntimeError` naming a candidate that did not start in time.
    """
    spawn = multiprocessing.get_context("spawn")
    pipes: dict[str, Connection] = {}
    processes: list[multiprocessing.process.BaseProcess] = []
    try:
        for name, args in candidates.items():
            parent, child = spawn.Pipe()
            process = spawn.Process(target=serve, args=(*args, child), name=name)
            process.start()
            pipes[name], processes = parent, [*processes, process]
        for name, pipe in pipes.items():
            if not pipe.poll(start_s) or pipe.recv() != "ready":
                raise RuntimeError(f"the {name} stack did not start within {start_s:g} s")

        def sample(pipe: Connection) -> Callable[[], float]:
            def ask() -> float:
                pipe.send(True)
                return float(pipe.recv())

            return ask

        return Rounds(rounds, {n: sample(p) for n, p in pipes.items()}, rotate=rotate)
    finally:
        for pipe in pipes.values():
            with contextlib.suppress(OSError):
                pipe.send(False)
        for started in processes:
            started.join(120)
            if started.exitcode is None:
                started.kill()  # by its PID
