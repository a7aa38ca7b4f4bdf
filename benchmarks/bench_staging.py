"""Staging: batched Transfer against one task per file, and the local backend against ``cp -r``.

The tree: 1,000 files of 1 to 64 KB in 10 x 3 directories (model inputs, namelists,
observations), the same for every figure below.

Transfer (against the local Globus stand-in, real ``globus_sdk.TransferClient``, real
files): the 1,000 files staged by ``Stager`` (one batched task, checksum sync,
verification, per-item results) against the pattern peers use (chiltepin 0.1.7's
``transfer_task``, Parsl's GlobusStaging): one Transfer task per file, submitted and
awaited one after another. Both poll task status at the same interval. API calls are
counted at the stand-in (every Transfer request it answered). Target: >= 50x fewer calls.
The two take turns over ``ROUNDS`` rounds, each copying into a directory of its own; each
figure is the median of the rounds' own ratios.

Local backend: the same tree copied by ``Stager`` (checksum-verified, atomic renames,
flushed to disk) and by ``cp -r``; rounds in rotating order (ABC, BCA, CAB, ...), the
median of the rounds' own ratios, dirty pages flushed (``sync``) before each. Target:
>= 0.8 of ``cp -r``'s throughput. Two more figures use a bigger tree (1,000 files of
4 KB to 1 MB, ~280 MB), where the flush to disk that ``cp`` skips dominates: against
``cp -r && sync`` (the same durability) and against bare ``cp -r``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import globus_sdk

from benchmarks.figures import Figure, Rounds, paired
from chiltepin import auth
from chiltepin.staging import Stager
from chiltepin.system.waiting import wait_until
from chiltepin.testing import GlobusStandIn
from chiltepin.testing.rabbitmq import free_port
from chiltepin.testing.session import offline_session

FILES = 1000
POLL_S = 0.02
ROUNDS = 3
SMALL_TREE = (1 << 10, 4 << 10, 16 << 10, 64 << 10)
BIG_TREE = (4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20)


def _calls(standin: GlobusStandIn) -> int:
    return sum(standin.transfer.calls.values())


def _one_task_per_file(
    tc: globus_sdk.TransferClient, src: str, dst: str, files: list[str], into: str
) -> None:
    """What peers do: a task per file, each submitted and waited for before the next."""
    for rel in files:
        data = globus_sdk.TransferData(src, dst)
        data.add_item(f"/in/{rel}", f"{into}/{rel}")
        _await(tc, tc.submit_transfer(data)["task_id"])


def _await(tc: globus_sdk.TransferClient, task_id: str) -> None:
    """Poll the task's status every ``POLL_S`` until it ends."""
    wait_until(
        lambda: tc.get_task(task_id)["status"] in ("SUCCEEDED", "FAILED"),
        60,
        interval=POLL_S,
        what=f"Transfer task {task_id} finished",
    )


def transfer_figures(
    standin: GlobusStandIn, src: str, rels: list[str], rounds: int = ROUNDS
) -> list[Figure]:
    """``src`` holds the tree under ``/in``; ``rels`` are its files. The two ways take
    turns over ``rounds`` rounds, each copying into a directory of its own."""
    files = len(rels)
    dst = standin.add_collection("bench-destination")
    stager = Stager(poll_interval_s=POLL_S, max_poll_interval_s=POLL_S)
    stager.resolve_collection(src)  # warm the client (token) outside the measurement
    tc = auth.transfer_client()
    calls: dict[str, list[int]] = {"per file": [], "batched": []}

    def staged(into: str) -> None:
        pairs = [(f"globus://{src}/in/{rel}", f"globus://{dst}{into}/{rel}") for rel in rels]
        report = stager.stage(pairs, deadline=600)
        assert report.ok and len(report.tasks) == 1

    ways = {
        "per file": lambda into: _one_task_per_file(tc, src, dst, rels, into),
        "batched": staged,
    }

    def measure(way: str) -> Callable[[], float]:
        def once() -> float:
            into = f"/{way.replace(' ', '')}-{len(calls[way])}"
            before, started = _calls(standin), time.perf_counter()
            ways[way](into)
            elapsed = time.perf_counter() - started
            calls[way].append(_calls(standin) - before)
            copied = [p for p in standin.collection_path(dst, into).rglob("*") if p.is_file()]
            assert len(copied) == files
            return elapsed

        return once

    measured = Rounds(rounds, {way: measure(way) for way in ways})
    counted = paired(
        f"Transfer API calls, {files:,} files: one task per file / batched",
        calls["per file"],
        calls["batched"],
        "calls",
        50.0,
    )
    wall = measured.figure(
        f"wall time, {files:,} files via Transfer: one task per file / batched",
        "per file",
        "batched",
        "s",
        10.0,
    )
    batched_calls = "/".join(f"{n:.0f}" for n in calls["batched"])
    per_file_calls = "/".join(f"{n:.0f}" for n in calls["per file"])
    return [
        replace(
            counted,
            note=f"{counted.note}; batched: {batched_calls} calls in 1 task;"
            f" per file: {per_file_calls}",
        ),
        replace(
            wall,
            note=f"{wall.note}; local stand-in latency; the real service adds ~100 ms per call",
        ),
    ]


def make_tree(root: Path, sizes: tuple[int, ...], files: int = FILES) -> list[str]:
    """Write a benchmark tree; return its files' relative paths."""
    rels = []
    for i in range(files):
        rel = f"d{i % 10}/e{i % 3}/f{i:04d}.bin"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(os.urandom(sizes[i % len(sizes)]))
        rels.append(rel)
    return rels


def _tree_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def local_rounds(src: Path, work: Path, rounds: int = 5) -> Rounds:
    """MB/s of ``cp -r``, ``cp -r && sync`` and ``Stager`` copying ``src``, in turns."""
    size_mb = _tree_mb(src)
    files = sum(1 for p in src.rglob("*") if p.is_file())
    work.mkdir(parents=True, exist_ok=True)
    stager = Stager()

    def measure(copy: object) -> float:
        dst = work / "dst"
        os.sync()
        started = time.perf_counter()
        copy(dst)  # type: ignore[operator]
        elapsed = time.perf_counter() - started
        shutil.rmtree(dst)
        return size_mb / elapsed

    def cp(dst: Path, sync: bool = False) -> None:
        subprocess.run(["cp", "-r", str(src), str(dst)], check=True)
        if sync:
            os.sync()

    def staged(dst: Path) -> None:
        report = stager.stage([(f"file://{src}/", f"file://{dst}/")])
        assert report.ok and report.files == files

    return Rounds(
        rounds,
        {
            "cp": lambda: measure(cp),
            "cp+sync": lambda: measure(lambda d: cp(d, sync=True)),
            "stager": lambda: measure(staged),
        },
        rotate=True,
    )


def local_figures(small: Path, work: Path, files: int = FILES) -> list[Figure]:
    same = local_rounds(small, work / "same")
    big_src = work / "big"
    make_tree(big_src, BIG_TREE, files)
    big = local_rounds(big_src, work / "bigcopy")
    what = "verified, atomic, flushed"
    same_tree = f"the same {files:,} files, {_tree_mb(small):.0f} MB"
    big_tree = f"{files:,} files, {_tree_mb(big_src):.0f} MB"
    return [
        same.figure(
            f"local backend throughput / cp -r ({same_tree}; {what})", "stager", "cp", "MB/s", 0.8
        ),
        big.figure(
            f"local backend throughput / cp -r && sync ({big_tree}; same durability)",
            "stager",
            "cp+sync",
            "MB/s",
            0.8,
        ),
    ]


def run(files: int = FILES) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="chiltepin-bench-") as tmp:
        base = Path(tmp)
        with offline_session(base / "globus", port=free_port(), compute=False) as standin:
            src = standin.add_collection("bench-source")
            tree = standin.collection_path(src, "/in")
            rels = make_tree(tree, SMALL_TREE, files)
            figures = transfer_figures(standin, src, rels)
            figures += local_figures(tree, base / "local", files)
    return figures
