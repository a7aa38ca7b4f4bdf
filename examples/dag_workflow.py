"""A small DAG with chiltepin.Workflow: two forecasts feed one verification, plus a shell
step and a 2-rank MPI step. Runs on the embedded local default; pass a sites file to run it
on endpoints (``python examples/dag_workflow.py sites.yaml``)."""

from __future__ import annotations

import sys

from chiltepin import Workflow, bash_task, python_task


@python_task
def forecast(member: int, steps: int) -> list[float]:
    from chiltepin.demo.lorenz96 import initial_conditions, run_member

    return run_member(initial_conditions(member + 1)[member], steps)["state"].tolist()


@python_task
def verify(a: list[float], b: list[float]) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5


@bash_task
def archive(distance: float, stdout: str | None = None) -> str:
    return f"echo distance between members: {distance:.3f}"


def main() -> None:
    sites = sys.argv[1] if len(sys.argv) > 1 else None
    with Workflow(sites):
        first, second = forecast(0, 200), forecast(1, 200)
        distance = verify(first, second)  # waits for both forecasts
        archive(distance, stdout="archive.out").result()
        print(f"distance between members 0 and 1: {distance.result():.3f}")


if __name__ == "__main__":
    main()
