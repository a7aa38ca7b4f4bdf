"""``chiltepin run``: look at and resume runs from their run directories."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chiltepin.cli.console import console
from chiltepin.federation.journal import agent_events, count_states
from chiltepin.report.agents import agent_states

_run_dir = click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))


@click.group("run")
def command() -> None:
    """Inspect or resume a federation run from its run directory.

    \b
    chiltepin run status ~/.chiltepin/runs/20261121-101500-ab12cd
    chiltepin run resume ~/.chiltepin/runs/20261121-101500-ab12cd
    """


@command.command("status")
@_run_dir
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(run_dir: Path, as_json: bool) -> None:
    """Count the tasks of the run in RUN_DIR by state, from its journal (no service is
    contacted): held (submitted, not yet placed on a site), pending (placed), done, failed;
    and its Academy agents, if it launched any, by how they stand (running, ended, failed)."""
    summary: dict[str, object] = {"run_dir": str(run_dir), **count_states(run_dir).as_dict()}
    said = ", ".join(f"{k}: {v}" for k, v in summary.items())
    states = agent_states(agent_events(run_dir))
    if states:
        summary["agents"] = states
        said += ", agents: " + ", ".join(f"{n} {state}" for state, n in states.items())
    click.echo(json.dumps(summary) if as_json else said)


@command.command("resume")
@_run_dir
@click.option(
    "--sites",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Sites file to use instead of the run's own (e.g. a site is gone for good).",
)
@click.option("--progress/--no-progress", default=None, help="[default: on a terminal]")
def resume(run_dir: Path, sites: Path | None, progress: bool | None) -> None:
    """Collect every result of the run in RUN_DIR whose client died (killed, logged out,
    rebooted).

    Finished tasks are read from the run directory, tasks still held by an endpoint are
    collected by their task ids, and tasks that never ran are submitted again. Results
    are stored in the run directory; exit status 1 if any task failed.
    """
    from chiltepin.federation import Federation

    federation = Federation.reattach(run_dir, sites, progress=progress, finished=False)
    failed = federation.restored[1]
    for future in federation.as_completed():  # the tasks it had to carry on, as they end
        failed += future.exception() is not None
    federation.shutdown(wait=True)
    counts = count_states(run_dir)
    out = console()
    federation.print_summary(out)
    out.print(f"{counts.tasks} tasks, {failed} failed; results in {run_dir}")
    raise SystemExit(1 if failed else 0)
