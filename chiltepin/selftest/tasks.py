"""What the self-test's jobs run on the site's workers.

Imported by reference on the workers (they run the site's own environment, which has
chiltepin), so this module imports nothing but the standard library.
"""

from __future__ import annotations

IMAGE_MARKER = "/etc/chiltepin-image"
"""A file only the chiltepin container image has (see docker/Dockerfile)."""


def where() -> dict[str, object]:
    """Where this task ran: host, Slurm/PBS job and node, Python, and the container image
    marker when the worker runs inside chiltepin's image."""
    import os
    import socket
    import sys

    env = os.environ
    try:
        with open(IMAGE_MARKER) as f:
            image: str | None = f.read().strip()
    except OSError:
        image = None
    return {
        "host": socket.gethostname(),
        "job": env.get("SLURM_JOB_ID") or env.get("PBS_JOBID"),
        "node": env.get("SLURMD_NODENAME") or socket.gethostname(),
        "python": sys.version.split()[0],
        "image": image,
    }
