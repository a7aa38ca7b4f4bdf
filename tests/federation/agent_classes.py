"""Academy agents the agent tests launch (importable on workers as tests.*)."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from academy.agent import Agent, action

from chiltepin.federation.agent_checkpoint import Checkpointed


class Counter(Agent):
    """Keeps a running total across actions: state that lives on the worker."""

    def __init__(self, start: int = 0) -> None:
        super().__init__()
        self.total = start

    @action
    async def add(self, n: int) -> int:
        self.total += n
        return self.total

    @action
    async def where(self) -> int:
        return os.getpid()


class FailsAtStart(Agent):
    """An agent whose own code fails: it raises as it starts, on whatever site."""

    async def agent_on_startup(self) -> None:
        raise RuntimeError("will not start")


class HoldsAConnection(Agent):
    """An agent instance that cannot be serialised: it holds an open database connection."""

    def __init__(self) -> None:
        super().__init__()
        self.db = sqlite3.connect(":memory:")


class KeptCounter(Checkpointed, Counter):
    """A :class:`Counter` whose total survives its relaunch: its checkpoint is the total
    (its actions, inherited from Counter, save it)."""

    def checkpoint(self) -> Any:
        return {"total": self.total}

    def restore(self, state: Any) -> None:
        self.total = state["total"]

    @action
    async def fail(self) -> None:
        self.total = -1
        raise ValueError("asked to fail")
