"""A Parsl executor that hands a DAG's ready tasks to a :class:`Federation`.

Parsl's DataFlowKernel submits a task to an executor the moment its inputs resolve, and
picks among an app's executors at random, whatever their load or queue wait. Behind this
one executor, a ready task goes to the federation instead, which holds it on the client
and releases it to the site expected to finish it first (late binding, policy
``soonest``), with the same failover, exactly-once results, journal and report as
``Federation.submit``.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from parsl.executors.base import ParslExecutor

from chiltepin.federation import Federation

LABEL = "federation"


class FederationExecutor(ParslExecutor):
    """Tasks of a Parsl DAG placed by ``federation`` (which this executor shuts down)."""

    def __init__(self, federation: Federation, label: str = LABEL) -> None:
        super().__init__()
        self.label = label
        self.federation = federation

    def submit(
        self, func: Any, resource_specification: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Future[Any]:
        """``resource_specification`` is the task's ``resources`` (the Workflow puts them
        there), routed per site by the federation as ``Federation.submit`` would."""
        return self.federation.submit(func, *args, resources=resource_specification, **kwargs)

    def shutdown(self) -> None:
        # The DataFlowKernel waited for its tasks; a raced duplicate still out is let go.
        self.federation.shutdown(wait=False, cancel_futures=True)
