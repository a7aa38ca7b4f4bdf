"""Academy agents the agent tests launch (importable on workers as tests.*)."""

from __future__ import annotations

import os
import sqlite3

from academy.agent import Agent, action


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


class HoldsAConnection(Agent):
    """An agent instance that cannot be serialised: it holds an open database connection."""

    def __init__(self) -> None:
        super().__init__()
        self.db = sqlite3.connect(":memory:")
