"""A Parsl ``GlobusComputeExecutor`` that hands the SDK tasks in bursts.

Parsl's DataFlowKernel launches each task the moment its inputs are ready, so the plain
``GlobusComputeExecutor`` feeds the SDK ``Executor`` one task at a time. The SDK then
sends many tiny batches, and its client-side limiter (a few small batches per 16 s)
stalls the run for seconds. This executor forwards what the DFK hands it through a
:class:`~chiltepin.client.burst.Burst`, so the SDK fills its batches (up to ``MAX_BATCH``
tasks per request) and the limiter never engages.
"""

from __future__ import annotations

import functools
from concurrent.futures import Future
from typing import Any

from parsl.executors import GlobusComputeExecutor

from chiltepin.client.burst import LINGER_S, Burst
from chiltepin.client.limits import MAX_BATCH

_Pending = tuple[Future[Any], Any, dict[str, Any], tuple[Any, ...], dict[str, Any]]


class BatchingGlobusComputeExecutor(GlobusComputeExecutor):
    """``GlobusComputeExecutor`` with a short linger before forwarding to the SDK."""

    def __init__(
        self, *args: Any, linger_s: float = LINGER_S, max_batch: int = MAX_BATCH, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self._burst: Burst[_Pending] = Burst(
            self._forward,
            name=f"chiltepin-batch-{self.label}",
            linger_s=linger_s,
            max_items=max_batch,
        )

    def submit(
        self, func: Any, resource_specification: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Future[Any]:
        outer: Future[Any] = Future()
        self._burst.add((outer, func, resource_specification, args, kwargs))
        return outer

    def _forward(self, batch: list[_Pending]) -> None:
        for outer, func, spec, args, kwargs in batch:
            try:
                inner = GlobusComputeExecutor.submit(self, func, spec, *args, **kwargs)
            except Exception as err:
                outer.set_exception(err)
                continue
            inner.add_done_callback(functools.partial(_copy, target=outer))

    def shutdown(self) -> None:
        self._burst.close()
        super().shutdown()


def _copy(source: Future[Any], target: Future[Any]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())
