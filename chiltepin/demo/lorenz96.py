"""The ensemble demo: a Lorenz-96 forecast ensemble fanned out across sites.

Lorenz-96 is the toy atmosphere of data assimilation papers: ``K`` variables on a latitude
circle, advection, damping and forcing ``F`` (chaotic at F = 8). Each ensemble member starts
from the same analysis plus a small perturbation and is integrated with RK4; the spread of
the members grows as the forecast loses skill, which is what an ensemble is for.

By default two embedded local sites share the members in proportion to their capacity, so
the demo runs anywhere with no Globus account; ``--sites FILE`` runs the same ensemble on
real endpoints.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from chiltepin.dashboard import watch
from chiltepin.federation import BudgetExceeded, Federation
from chiltepin.report import write_report

DEMO_SITES: dict[str, dict[str, Any]] = {
    # Two sites on this machine with different capacities (workers), to show placement,
    # and illustrative prices per node-hour (as a cloud Slurm cluster would have).
    "site-a": {
        "kind": "local",
        "site": "localhost",
        "set": ["cost_per_node_hour=3.0"],
        "options": {"max_workers_per_node": 2},
    },
    "site-b": {
        "kind": "local",
        "site": "localhost",
        "set": ["cost_per_node_hour=1.2"],
        "options": {"max_workers_per_node": 1},
    },
}


def run_member(
    x0: np.ndarray, steps: int, dt: float = 0.01, forcing: float = 8.0
) -> dict[str, Any]:
    """Integrate one member with RK4; return its final state and where it ran.

    Self-contained (numpy only) so it runs on any endpoint whose workers have numpy.
    """
    import os
    import socket

    import numpy as np

    def tendency(x: np.ndarray) -> np.ndarray:
        return (np.roll(x, -1) - np.roll(x, 2)) * np.roll(x, 1) - x + forcing

    x = np.array(x0, dtype=float)
    for _ in range(steps):
        k1 = tendency(x)
        k2 = tendency(x + 0.5 * dt * k1)
        k3 = tendency(x + 0.5 * dt * k2)
        k4 = tendency(x + dt * k3)
        x = x + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return {"state": x, "host": socket.gethostname(), "pid": os.getpid()}


def initial_conditions(
    members: int, variables: int = 40, forcing: float = 8.0, seed: int = 1
) -> list[np.ndarray]:
    """An "analysis" on the attractor, plus one small Gaussian perturbation per member."""
    rng = np.random.default_rng(seed)
    analysis = forcing * np.ones(variables)
    analysis[0] += 0.01
    spun_up = run_member(analysis, steps=1000, forcing=forcing)["state"]
    return [spun_up + rng.normal(0.0, 1e-3, variables) for _ in range(members)]


@dataclass(frozen=True)
class EnsembleResult:
    mean: np.ndarray
    spread: np.ndarray
    states: np.ndarray


def run_ensemble(federation: Federation, ics: list[np.ndarray], steps: int) -> list[dict[str, Any]]:
    """Keep every site busy, one member per free worker, until all ran or the budget says
    stop: a run with a budget must not submit everything up front."""
    window = sum(b.capacity for b in federation.backends)
    pending = list(enumerate(ics))[::-1]
    running: dict[concurrent.futures.Future[Any], int] = {}
    results: dict[int, dict[str, Any]] = {}
    while pending or running:
        while pending and len(running) < window:
            index, x0 = pending.pop()
            try:
                running[federation.submit(run_member, x0, steps)] = index
            except BudgetExceeded:
                pending.clear()
        done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
        for future in done:
            results[running.pop(future)] = future.result()
    return [results[i] for i in sorted(results)]


def summarise(results: list[dict[str, Any]]) -> EnsembleResult:
    states = np.stack([r["state"] for r in results])
    return EnsembleResult(
        mean=states.mean(axis=0), spread=states.std(axis=0, ddof=1), states=states
    )


def run(
    console: Console,
    *,
    members: int = 16,
    steps: int = 500,
    sites: str | Path | None = None,
    run_dir: Path | None = None,
    progress: bool | None = None,
    budget: float | None = None,
    dashboard: bool = False,
) -> EnsembleResult:
    """Run the ensemble and print what it found; with ``dashboard``, serve the run's page
    while it runs and after it ends, until Ctrl-C."""
    serving = ExitStack()
    with serving:
        ensemble = _run(
            console,
            serving if dashboard else None,
            members,
            steps,
            sites,
            run_dir,
            progress,
            budget,
        )
        if dashboard:
            console.print("the run is over; its page is still served (Ctrl-C stops it)")
            with suppress(KeyboardInterrupt):
                threading.Event().wait()
    return ensemble


def _run(
    console: Console,
    serving: ExitStack | None,
    members: int,
    steps: int,
    sites: str | Path | None,
    run_dir: Path | None,
    progress: bool | None,
    budget: float | None,
) -> EnsembleResult:
    console.rule("[bold]Lorenz-96 ensemble forecast")
    ics = initial_conditions(members)
    started = time.monotonic()
    where = str(sites) if sites else "two embedded local sites (no Globus account needed)"
    console.print(f"{members} members x {steps} RK4 steps on {where}")
    with Federation(
        sites or DEMO_SITES, run_dir=run_dir, progress=progress, budget=budget
    ) as federation:
        if serving is not None:  # outlives the run: the stack closes after the report
            serving.enter_context(
                watch(federation, say=lambda text: console.print(text, soft_wrap=True))
            )
        results = run_ensemble(federation, ics, steps)
        console.print(f"run directory: {federation.run_dir}")
    if len(results) < members:
        console.print(f"[yellow]budget reached: {len(results)} of {members} members ran")
    elapsed = time.monotonic() - started
    ensemble = summarise(results)

    table = Table(title=f"Ensemble after {steps} steps ({steps * 0.01:.1f} model time units)")
    for column in ("variable", "mean", "spread"):
        table.add_column(column, justify="right")
    for k in range(0, len(ensemble.mean), max(1, len(ensemble.mean) // 8)):
        table.add_row(str(k), f"{ensemble.mean[k]:+.3f}", f"{ensemble.spread[k]:.3f}")
    console.print(table)
    console.print(
        f"domain-mean spread {ensemble.spread.mean():.3f} (initial perturbations 0.001);"
        f" {len(results)} members in {elapsed:.1f} s"
    )
    federation.print_summary(console)
    write_report(federation.run_dir, console)
    return ensemble
