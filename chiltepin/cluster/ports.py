"""Free TCP ports on 127.0.0.1 for the single-host cluster's daemons.

Every daemon of the single-host cluster listens on loopback: one ``SlurmctldPort`` and one port
per fake node. Choosing them automatically (instead of Slurm's fixed 6817/6818) is what lets two
independent clusters ("two sites") and a system Slurm coexist on one machine.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable

LOOPBACK = "127.0.0.1"

# Below Linux's default ephemeral range (32768-60999), so a client's outgoing connection does not
# grab a port between our check and the daemon's bind; above the well-known/registered crowd.
PORT_RANGE = (20000, 32000)


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on (or holds) ``host:port``.

    Binds without ``SO_REUSEADDR``, which is stricter than the Slurm daemons are: a port still in
    TIME_WAIT counts as taken, so a freshly stopped cluster's ports are not handed out again.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def find_free_ports(
    count: int,
    *,
    exclude: Iterable[int] = (),
    host: str = LOOPBACK,
    attempts: int = 200,
    rng: random.Random | None = None,
) -> list[int]:
    """``count`` consecutive free ports on ``host``, none of them in ``exclude``.

    Consecutive so that the rendered ``slurm.conf`` reads naturally (``n1``→p, ``n2``→p+1, ...).
    The start is random so that clusters started concurrently (pytest-xdist, two terminals)
    rarely even race for the same block.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    chooser = rng or random.Random()
    excluded = set(exclude)
    low, high = PORT_RANGE
    for _ in range(attempts):
        first = chooser.randrange(low, high - count)
        block = list(range(first, first + count))
        if excluded.intersection(block):
            continue
        if all(port_is_free(p, host) for p in block):
            return block
    raise RuntimeError(
        f"no block of {count} free consecutive TCP ports found on {host} in {low}-{high} "
        f"after {attempts} attempts"
    )
