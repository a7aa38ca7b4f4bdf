"""Run every benchmark; print a table of ratios and write JSON and Markdown results.

    ./dev bench                      # all of them
    ./dev bench local_throughput     # some of them (module names without "bench_")

Every figure is a ratio against a baseline measured in the same run, printed with its
target and whether it is met. Results: benchmarks/results/latest.{json,md}.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.table import Table

from benchmarks.figures import Figure
from chiltepin.cli.console import console

BENCHMARKS = [
    "local_throughput",
    "memory",
    "failover",
    "standin",
    "bridge",
    "staging",
    "wakeups",
    "placement",
    "million",
    "dashboard",
]
RESULTS = Path(__file__).resolve().parent / "results"


def table(figures: list[Figure]) -> Table:
    out = Table(title="chiltepin benchmarks (each ratio against a baseline from the same run)")
    for column in ("figure", "value", "baseline", "ratio", "target", "met"):
        out.add_column(column, justify="left" if column == "figure" else "right")
    for f in figures:
        target = f"{'>=' if f.higher else '<='} {f.target:g}"
        out.add_row(
            f.name,
            f"{f.value:.4g} {f.unit}",
            f"{f.baseline:.4g}",
            f"{f.ratio:.3f}",
            target,
            "[green]yes" if f.met else "[red]no",
        )
    return out


def markdown(figures: list[Figure], meta: dict[str, str]) -> str:
    lines = [
        f"# Benchmark results ({meta['when']}, {meta['machine']})",
        "",
        "| figure | value | baseline | ratio | target | met |",
        "|---|---:|---:|---:|---:|:---:|",
    ]
    for f in figures:
        target = f"{'≥' if f.higher else '≤'} {f.target:g}"
        lines.append(
            f"| {f.name} | {f.value:.4g} {f.unit} | {f.baseline:.4g} | {f.ratio:.3f} | {target}"
            f" | {'yes' if f.met else 'no'} |"
        )
    notes = [f"- {f.name}: {f.note}" for f in figures if f.note]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines) + "\n"


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
    args = parser.parse_args(argv)
    figures: list[Figure] = []
    broken: list[str] = []
    for name in args.names or BENCHMARKS:
        started = time.monotonic()
        module = importlib.import_module(f"benchmarks.bench_{name}")
        try:
            figures += module.run()
        except Exception as err:  # one broken benchmark must not hide the others' figures
            broken.append(name)
            print(f"[bench] {name} FAILED: {type(err).__name__}: {err}", file=sys.stderr)
            continue
        print(f"[bench] {name}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    console().print(table(figures))
    meta = {
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
    }
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "latest.json").write_text(
        json.dumps({**meta, "figures": [f.as_dict() for f in figures]}, indent=2) + "\n"
    )
    (args.output / "latest.md").write_text(markdown(figures, meta))
    if broken:
        print(f"[bench] could not run: {', '.join(broken)}", file=sys.stderr)
    return 0 if all(f.met for f in figures) and not broken else 1


if __name__ == "__main__":
    sys.exit(main())
