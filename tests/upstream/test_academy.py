"""Contract: chiltepin tells an Academy ``@action`` from any other method of an agent."""

import asyncio

from academy.agent import Agent, action, loop

from chiltepin.upstream.academy import is_action
from tests.upstream.contract import contract


class _Probe(Agent):
    @action
    async def answer(self) -> int:
        return 1

    @loop
    async def watch(self, shutdown: asyncio.Event) -> None:
        return None

    async def helper(self) -> None:
        return None


class _Heir(_Probe):
    pass


def test_actions_are_told_from_loops_and_plain_methods() -> None:
    with contract("@action's method mark", "academy-py", "is read by is_action"):
        assert is_action(_Probe.answer) and is_action(_Heir.answer)
        assert not is_action(_Probe.watch) and not is_action(_Probe.helper)
