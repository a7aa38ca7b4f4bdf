"""Fan an ensemble out with a Federation, then post-process on one site.

Runs as is on the embedded local default (no Globus account). Point it at your own sites
with ``python examples/ensemble_federation.py sites.yaml``.
"""

from __future__ import annotations

import sys

from chiltepin import Federation
from chiltepin.demo.lorenz96 import initial_conditions, run_member


def spread_of(results: list[dict]) -> float:
    # Functions of a script are sent as source: import what they use inside them.
    from chiltepin.demo.lorenz96 import summarise

    return float(summarise(results).spread.mean())


def main() -> None:
    sites = sys.argv[1] if len(sys.argv) > 1 else None
    members = initial_conditions(8)
    with Federation(sites) as federation:
        results = list(federation.map(run_member, members, [300] * len(members)))
        spread = federation.submit(spread_of, results).result()
        print(f"domain-mean spread after 300 steps: {spread:.3f}")
        federation.print_summary()


if __name__ == "__main__":
    main()
