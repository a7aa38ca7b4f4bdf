"""A Parsl ``GlobusComputeExecutor`` that hands the SDK tasks in bursts.

Parsl's DataFlowKernel launches each task the moment its inputs are ready, so the plain
``GlobusComputeExecutor`` feeds the SDK ``Executor`` one task at a time. The SDK then
sends many tiny batches, and its client-side limiter (a few small batches per 16 s)
stalls the run for seconds. This executor keeps what the DFK hands it for a few
milliseconds and forwards it all at once, so the SDK fills its batches (up to 128 tasks
per request) and the limiter never engages.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from parsl.executors import GlobusComputeExecutor

_Pending = tuple[Future, Any, dict[str, Any], tuple[Any, ...], dict[str, Any]]  # type: ignore[type-arg]


class BatchingGlobusComputeExecutor(GlobusComputeExecutor):
    """``GlobusComputeExecutor`` with a short linger before forwarding to the SDK."""

    def __init__(self, *args: Any, linger_s: float = 0.02, max_batch: int = 128, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.linger_s = linger_s
        self.max_batch = max_batch
        self._pending: list[_Pending] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._flusher = threading.Thread(
            target=self._flush_loop, name=f"chiltepin-batch-{self.label}", daemon=True
        )
        self._flusher.start()

    def submit(  # type: ignore[override]
        self, func: Any, resource_specification: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Future:  # type: ignore[type-arg]
        outer: Future = Future()  # type: ignore[type-arg]
        with self._lock:
            self._pending.append((outer, func, resource_specification, args, kwargs))
            full = len(self._pending) >= self.max_batch
        if full:
            self._wake.set()
        return outer

    def _flush_loop(self) -> None:
        while not self._closing:
            self._wake.wait(self.linger_s)
            self._wake.clear()
            self._flush()
        self._flush()

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        for outer, func, spec, args, kwargs in batch:
            try:
                inner = GlobusComputeExecutor.submit(self, func, spec, *args, **kwargs)
            except Exception as err:
                outer.set_exception(err)
                continue
            inner.add_done_callback(lambda f, outer=outer: _copy(f, outer))

    def shutdown(self) -> None:
        self._closing = True
        self._wake.set()
        self._flusher.join()
        super().shutdown()


def _copy(source: Future, target: Future) -> None:  # type: ignore[type-arg]
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())
