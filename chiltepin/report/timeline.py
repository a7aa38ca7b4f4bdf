"""The run timeline as a picture: per site, tasks running over time and the batch jobs.

One panel per site. The line is how many tasks were executing at each moment; the bars
under it are the batch jobs (blocks) those tasks ran in, from their first task's start
to their last task's end. A site whose line drops to zero while its bars continue was
idle while holding nodes; a gap between bars is a queue wait or a failed block.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure  # no pyplot: files only, never a display

from chiltepin.report.model import RunReport


def _running(starts: list[float], ends: list[float]) -> tuple[list[float], list[int]]:
    events = sorted([(t, 1) for t in starts] + [(t, -1) for t in ends])
    times, counts, level = [], [], 0
    for t, step in events:
        level += step
        times.append(t)
        counts.append(level)
    return times, counts


def write_timeline(report: RunReport, path: Path) -> Path:
    """Draw ``report`` to ``path`` (PNG) and return the path."""
    sites = [s.site for s in report.sites] or ["(no tasks)"]
    origin = report.started or 0.0
    figure = Figure(figsize=(10, 1.8 + 1.6 * len(sites)))
    axes = figure.subplots(len(sites), 1, sharex=True, squeeze=False)
    for ax, site in zip(axes[:, 0], sites, strict=True):
        spans = [i for i in report.intervals if i.site == site]
        times, counts = _running([i.start - origin for i in spans], [i.end - origin for i in spans])
        if times:
            ax.step(times, counts, where="post", color="tab:blue", label="tasks running")
        jobs = [j for j in report.jobs if j.site == site]
        top = max(counts, default=1)
        for row, job in enumerate(jobs):
            y = -0.15 * top * (row + 1)
            ax.hlines(y, job.start - origin, job.end - origin, colors="tab:orange", linewidth=4)
            ax.annotate(
                f"job {job.job} ({job.nodes} node{'s' * (job.nodes > 1)})",
                (job.start - origin, y),
                fontsize=7,
                va="bottom",
            )
        ax.set_ylabel(site)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("seconds since the run started")
    figure.suptitle(f"chiltepin run {Path(report.run_dir).name}: tasks running and batch jobs")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path
