"""File checksums for the local copier, computed without copying data through Python.

Why this module: verifying a copy means checksumming both the source and the destination,
and for large files that is most of the cost. Files are hashed through ``mmap`` (the page
cache is read in place, no buffer copies), and the checksum functions release the GIL, so
several files hash in parallel on several cores.

``crc32`` (zlib, hardware-accelerated, several GB/s) is the default: it detects the
corruption a copy can suffer (torn writes, flipped or missing blocks) as well as a
cryptographic hash would, at a fraction of the cost. ``sha256`` and friends are there for
callers who want a cryptographic digest.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import zlib
from typing import Literal

Algorithm = Literal["crc32", "sha256", "sha1", "blake2b", "md5"]
ALGORITHMS: tuple[str, ...] = ("crc32", "sha256", "sha1", "blake2b", "md5")
WINDOW = 64 << 20  # bytes mapped at a time


def of_bytes(data: bytes | memoryview | mmap.mmap, algorithm: str) -> str:
    """Checksum of an in-memory buffer, as a hex string."""
    if algorithm == "crc32":
        return f"{zlib.crc32(data):08x}"
    return hashlib.new(algorithm, data).hexdigest()


def of_fd(fd: int, size: int, algorithm: str) -> str:
    """Checksum of the first ``size`` bytes of an open file, read through ``mmap``."""
    crc = 0
    h = None if algorithm == "crc32" else hashlib.new(algorithm)
    offset = 0
    while offset < size:
        length = min(WINDOW, size - offset)
        with mmap.mmap(fd, length, access=mmap.ACCESS_READ, offset=offset) as view:
            if h is None:
                crc = zlib.crc32(view, crc)
            else:
                h.update(view)
        offset += length
    return f"{crc:08x}" if h is None else h.hexdigest()


def of_file(path: str | os.PathLike[str], algorithm: str) -> str:
    """Checksum of a whole file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return of_fd(fd, os.fstat(fd).st_size, algorithm)
    finally:
        os.close(fd)
