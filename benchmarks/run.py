"""Run every benchmark; print a table of ratios and write JSON and Markdown results.

    ./dev bench                      # all of them
    ./dev bench local_throughput     # some of them (module names without "bench_")
    ./dev bench --render             # latest.md again from latest.json, running nothing

A comparative figure is a ratio against a baseline measured in the same run; an absolute
one divides by a constant and is labelled so. Each is printed with its target and whether
it is met; a figure that could not be measured says why and is never met. The record is
benchmarks/results/latest.json (``record.Results``: this run first, then the figures of
earlier runs it did not measure again); latest.md and the README's headline figures are
rendered from it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import render
from benchmarks.figures import Figure
from benchmarks.record import FigureRecord, Results, RunRecord
from chiltepin.cli.console import console

BENCHMARKS = [
    "local_throughput",
    "per_task",
    "memory",
    "failover",
    "standin",
    "bridge",
    "staging",
    "wakeups",
    "placement",
    "first_minute",
    "million",
    "dashboard",
    "agents",
]
RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parents[1] / "README.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        choices=[[], *BENCHMARKS],
        metavar="NAME",
        help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="results directory")
    parser.add_argument("--notes", default="", help="what a reader should know about this run")
    parser.add_argument(
        "--render", action="store_true", help="write latest.md from latest.json, run nothing"
    )
    args = parser.parse_args(argv)
    record = args.output / "latest.json"
    results = Results.load(record)
    if args.render:
        _write(args.output, results)
        return 0
    figures: list[Figure] = []
    crashed: dict[str, str] = {}
    for name in args.names or BENCHMARKS:
        started = time.monotonic()
        module = importlib.import_module(f"benchmarks.bench_{name}")
        try:
            figures += module.run()
        except Exception as err:  # one broken benchmark must not hide the others' figures
            crashed[name] = f"{type(err).__name__}: {err}"
            print(f"[bench] {name} FAILED: {crashed[name]}", file=sys.stderr)
            continue
        print(f"[bench] {name}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    run = RunRecord(
        when=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        machine=f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        command=" ".join(["./dev bench", *(args.names or [])]),
        notes=args.notes,
        crashed=crashed,
        figures=[FigureRecord.of(f) for f in figures],
    )
    console().print(render.table(run))
    results = results.with_run(run)
    args.output.mkdir(parents=True, exist_ok=True)
    record.write_text(results.dumps())
    _write(args.output, results)
    if crashed:
        print(f"[bench] could not run: {', '.join(crashed)}", file=sys.stderr)
    return 0 if all(f.met for f in figures) and not crashed else 1


def _write(output: Path, results: Results) -> None:
    """``latest.md`` from the record, and the README's headline figures when the record
    is the repository's own (not a scratch ``--output``)."""
    (output / "latest.md").write_text(render.markdown(results))
    if output.resolve() == RESULTS:
        render.write_headline(README, results)


if __name__ == "__main__":
    sys.exit(main())
