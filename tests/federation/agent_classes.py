"""Academy agents the agent tests launch (importable on workers as tests.*)."""

from __future__ import annotations

import os
import threading

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


class HoldsALock(Agent):
    """An agent instance that cannot be pickled (it holds a lock)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
