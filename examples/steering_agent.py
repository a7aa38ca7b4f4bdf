"""An Academy agent on the federation steers a Lorenz-96 ensemble.

A ``Steering`` agent runs on a worker of the federation for the whole run and keeps the
ensemble's history; the client runs members through the same federation, tells the agent
each round's spread, and asks it how many members the next round should add (more while
the spread still grows). The agent's state lives on its worker between actions.

Runs as is on the embedded local default (no Globus account): the agents' exchange is
served on loopback by chiltepin. Point it at your own sites with
``python examples/steering_agent.py sites.yaml SITE``.
"""

from __future__ import annotations

import asyncio
import sys

from academy.agent import Agent, action

from chiltepin import Federation
from chiltepin.demo.lorenz96 import initial_conditions, run_member, summarise
from chiltepin.federation.agents import FederatedAgents


class Steering(Agent):
    """Keeps each round's spread; asks for more members while the spread grows."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step
        self.spreads: list[float] = []

    @action
    async def observe(self, spread: float) -> int:
        """Record a round's spread; the members to add next round."""
        growing = bool(self.spreads) and spread > self.spreads[-1]
        self.spreads.append(spread)
        return self.step if growing or len(self.spreads) == 1 else 0

    @action
    async def history(self) -> list[float]:
        return list(self.spreads)


async def steer(federation: Federation, site: str) -> None:
    async with FederatedAgents(federation) as agents:
        steering = await agents.launch(Steering, site=site, args=(2,))
        members = 4
        for steps in (100, 200, 300):
            states = initial_conditions(members)
            results = list(federation.map(run_member, states, [steps] * members))
            spread = float(summarise(results).spread.mean())
            more = await steering.observe(spread)
            print(f"{members} members, {steps} steps: spread {spread:.3f}; add {more}")
            members += more
        print("agent's history:", [round(s, 3) for s in await steering.history()])


def main() -> None:
    sites = sys.argv[1] if len(sys.argv) > 1 else None
    with Federation(sites, progress=False) as federation:
        site = sys.argv[2] if len(sys.argv) > 2 else federation.summary()[0].site
        asyncio.run(steer(federation, site))
        print(f"run: {federation.run_dir} (chiltepin report lists the agent)")


if __name__ == "__main__":
    main()
