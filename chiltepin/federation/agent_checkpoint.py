"""Agent checkpoints: an agent's state saved after each action, restored on its next launch.

An agent that subclasses :class:`Checkpointed` says what its state is (:meth:`checkpoint`,
any picklable value) and how to take it back (:meth:`restore`). Launched by
:class:`~chiltepin.federation.agents.FederatedAgents`, it saves ``checkpoint()`` to its
file in the run directory after each of its actions (its own and those it inherits),
before the action's answer is sent, and every launch of it (on another site after its site
was lost, or Academy's restart after it failed) restores the last one in
``agent_on_startup``, before it serves an action or runs a loop (Academy holds both until
startup ends).

Why after each action rather than on a period: an action is where a caller changes an
agent's state and sees the change, so saving before the answer leaves means no answer a
caller has seen is undone by a relaunch; a period would lose whatever changed since its
last tick. State that a ``@loop`` changes is saved with the next action, or at once by the
loop calling :meth:`Checkpointed.save_checkpoint`.

Why a file in the run directory: the client and the workers of its embedded (``local``)
sites share that file system, and the run directory already holds everything else of the
run. Why pickle: the state is written and read by the same agent class in the same run.

The file reaches the worker through :func:`run_with_checkpoints`, which the federation
runs in place of Academy's own runner: a context variable, read as the agent starts, so an
agent's class need not be built with the path (Academy builds it on the worker).
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from academy.agent import Agent

from chiltepin.system.files import write_atomically
from chiltepin.upstream.academy import is_action

R = TypeVar("R")

#: This launch's checkpoint file, set on the worker by :func:`run_with_checkpoints`.
_FILE: ContextVar[Path | None] = ContextVar("chiltepin_agent_checkpoint", default=None)
_SAVES = "_chiltepin_saves_checkpoint"  # an action already wrapped to save after it


def save(file: Path, state: Any) -> None:
    """Write ``state`` to ``file`` whole or not at all: a launch killed mid-write leaves
    the previous checkpoint, never half of one."""
    file.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(file, pickle.dumps(state))


def load(file: Path) -> Any:
    return pickle.loads(file.read_bytes())


def run_with_checkpoints(file: str, run: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
    """On the worker: ``run(*args, **kwargs)`` (Academy's runner of one launch) with
    ``file`` as the checkpoint file of the agent it starts."""
    token = _FILE.set(Path(file))
    try:
        return run(*args, **kwargs)
    finally:
        _FILE.reset(token)


def _saving_after(action: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``action``, then a checkpoint, whether it returned or raised (the state it leaves
    is the agent's state either way). ``functools.wraps`` keeps Academy's action marks."""

    @functools.wraps(action)
    async def saving(self: Checkpointed, *args: Any, **kwargs: Any) -> Any:
        try:
            return await action(self, *args, **kwargs)
        finally:
            self.save_checkpoint()

    setattr(saving, _SAVES, True)
    return saving


class Checkpointed(Agent):
    """An Academy agent whose state survives its relaunch: define :meth:`checkpoint` and
    :meth:`restore`. An agent overriding ``agent_on_startup`` calls
    ``await super().agent_on_startup()`` first, so it starts from the restored state.
    Launched other than by ``FederatedAgents`` (no checkpoint file), it saves nothing."""

    _checkpoint_file: Path | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in dir(cls):  # its own actions and those it inherits, each wrapped once
            method: Any = getattr(cls, name, None)
            if is_action(method) and not getattr(method, _SAVES, False):
                setattr(cls, name, _saving_after(method))

    def checkpoint(self) -> Any:
        """The agent's state, as a picklable value."""
        raise NotImplementedError(f"{type(self).__name__}.checkpoint() returns its state")

    def restore(self, state: Any) -> None:
        """Take back ``state``, the value the last :meth:`checkpoint` returned."""
        raise NotImplementedError(f"{type(self).__name__}.restore(state) takes its state back")

    def save_checkpoint(self) -> None:
        """Save :meth:`checkpoint` now (done after each action)."""
        if self._checkpoint_file is not None:
            save(self._checkpoint_file, self.checkpoint())

    async def agent_on_startup(self) -> None:
        self._checkpoint_file = _FILE.get()
        if self._checkpoint_file is not None and self._checkpoint_file.exists():
            self.restore(load(self._checkpoint_file))
