"""The one Globus Compute client a federation uses, under one shared rate budget.

Every site's SDK ``Executor`` is handed this client, so every request any of them makes
(batch submits, function registration, status polls) draws on the same budget: the
service counts requests per client, not per endpoint.
"""

from __future__ import annotations

import uuid
from typing import Any

from globus_compute_sdk import Client, Executor

from chiltepin.client.calls import CallSerializer
from chiltepin.client.limits import RateBudget


class BudgetedClient(Client):
    """A ``globus_compute_sdk.Client`` whose requests wait for :class:`RateBudget`."""

    def __init__(self, budget: RateBudget | None = None, **kwargs: Any) -> None:
        self.budget = budget or RateBudget()
        self.submit_requests = 0
        super().__init__(**kwargs)
        self.call_serializer = CallSerializer(
            strategy_code=kwargs.get("code_serialization_strategy"),
            strategy_data=kwargs.get("data_serialization_strategy"),
        )

    def executor(self, endpoint_id: Any = None, **kwargs: Any) -> Executor:
        """An SDK ``Executor`` that submits through this client, in a task group of its own.

        The task group is always explicit: the SDK otherwise falls back to a process-wide
        default that any earlier ``Executor`` sets, and two executors of one group share a
        result queue, so a stale result watcher of the other one takes half the results.
        The shared budget already enforces the service's limit for every site, so the
        SDK's own per-executor limiter is opened up: it would only add stalls on top.
        Tasks are serialised by :class:`CallSerializer` (the Executor's ``serializer``).
        """
        kwargs.setdefault("task_group_id", uuid.uuid4())
        kwargs.setdefault("serializer", self.call_serializer)
        return Executor(
            endpoint_id=endpoint_id, client=self, api_burst_limit=8, api_burst_window_s=1, **kwargs
        )

    def batch_run(self, *args: Any, **kwargs: Any) -> Any:
        self.budget.acquire()
        self.submit_requests += 1
        return super().batch_run(*args, **kwargs)

    def register_function(self, *args: Any, **kwargs: Any) -> Any:
        self.budget.acquire()
        return super().register_function(*args, **kwargs)

    def get_endpoint_status(self, *args: Any, **kwargs: Any) -> Any:
        self.budget.acquire()
        return super().get_endpoint_status(*args, **kwargs)

    def get_allowed_functions(self, *args: Any, **kwargs: Any) -> Any:
        self.budget.acquire()
        return super().get_allowed_functions(*args, **kwargs)

    def get_batch_result(self, *args: Any, **kwargs: Any) -> Any:
        self.budget.acquire()
        return super().get_batch_result(*args, **kwargs)
