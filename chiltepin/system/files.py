"""Writing a file whole or not at all.

A reader (another process, or this one after a crash) must never see half of a record,
a checkpoint or a configuration file: the content goes to a temporary file in the same
directory, which is then renamed over the target (``os.replace``, atomic on POSIX within
one file system). On failure the temporary file is removed and the target is unchanged.
"""

from __future__ import annotations

import os
import tempfile
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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
