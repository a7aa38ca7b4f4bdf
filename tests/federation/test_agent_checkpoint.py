"""Agent checkpoints (:mod:`chiltepin.federation.agent_checkpoint`) with real Academy in
this process: Academy's own ``Manager`` runs the agent on its event loop over Academy's
local exchange, inside :func:`run_with_checkpoints` as a worker of the federation runs it.
Each action's state is on disk before its answer, a failed action's too, and a new launch
starts from the last checkpoint; an agent launched without a checkpoint file saves nothing."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from academy.exchange import LocalExchangeFactory
from academy.manager import Manager

from chiltepin.federation.agent_checkpoint import load, run_with_checkpoints, save
from tests.federation.agent_classes import Counter, KeptCounter


def launch_and_add(file: Path | None, *adds: int, fail: bool = False) -> list[int]:
    """Launch a KeptCounter from 100 (through Academy, on this event loop), add ``adds``
    in turn, then (``fail``) call its failing action; the totals it answered."""

    async def converse() -> list[int]:
        manager = await Manager.from_exchange_factory(LocalExchangeFactory())
        async with manager:
            handle = await manager.launch(KeptCounter, args=(100,))
            totals = [await handle.add(n) for n in adds]
            if fail:
                with pytest.raises(ValueError, match="asked to fail"):
                    await handle.fail()
            return totals  # the manager shuts the agent down as it closes

    if file is None:
        return asyncio.run(converse())
    return run_with_checkpoints(str(file), asyncio.run, converse())


def test_each_action_is_saved_and_the_next_launch_starts_from_it(tmp_path: Path) -> None:
    file = tmp_path / "agents" / "counter.checkpoint"
    assert launch_and_add(file, 1, 2, 3) == [101, 103, 106]
    assert load(file) == {"total": 106}
    # a new launch (a new instance, built from 100 again) restores 106 before it serves
    assert launch_and_add(file, 4) == [110]
    assert load(file) == {"total": 110}


def test_a_failed_action_saves_the_state_it_left(tmp_path: Path) -> None:
    file = tmp_path / "counter.checkpoint"
    assert launch_and_add(file, 5, fail=True) == [105]
    assert load(file) == {"total": -1}  # what the instance held after the failed action


def test_an_agent_launched_without_a_checkpoint_file_saves_nothing(tmp_path: Path) -> None:
    assert launch_and_add(None, 1) == [101]
    assert launch_and_add(None, 1) == [101]  # nothing restored either


def test_a_state_that_cannot_be_saved_leaves_the_last_checkpoint(tmp_path: Path) -> None:
    file = tmp_path / "counter.checkpoint"
    save(file, {"total": 1})
    with pytest.raises(TypeError, match="cannot pickle"):
        save(file, {"total": threading.Lock()})
    assert load(file) == {"total": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["counter.checkpoint"]


def test_inherited_actions_save_on_the_checkpointed_class_only() -> None:
    # KeptCounter's add is Counter's, wrapped on KeptCounter once; Counter itself is untouched
    assert KeptCounter.add.__wrapped__ is Counter.add  # type: ignore[attr-defined]
    assert not hasattr(Counter.add, "__wrapped__")
