"""Writing a file whole or not at all.

A reader (another process, or this one after a crash) must never see half of a record,
a checkpoint or a configuration file: the content goes to a temporary file in the same
directory, which is then renamed over the target (``os.replace``, atomic on POSIX within
one file system). On failure the temporary file is removed and the target is unchanged.
The new file gets the mode a plain ``open`` would give it (0666 less the umask), not
``mkstemp``'s 0600: a Slurm configuration written here is read by daemons of other users.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomically(path: Path, content: str | bytes) -> None:
    """Replace ``path`` with ``content`` (text is written as UTF-8) in one rename.

    Parameters:
        path: the file to write; its directory must exist.
        content: the file's whole new content.

    Raises:
        OSError: the directory cannot be written; ``path`` is left as it was.
    """
    data = content.encode() if isinstance(content, str) else content
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
