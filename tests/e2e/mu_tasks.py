"""What tasks on a multi-user endpoint report (importable by workers as tests.e2e.*)."""

from __future__ import annotations

import os
import pwd


def who() -> tuple[int, str, int]:
    """The worker's uid, user name and pid."""
    uid = os.getuid()
    return uid, pwd.getpwuid(uid).pw_name, os.getpid()


def signal(pid: int) -> str:
    """Whether this worker may signal process ``pid`` (signal 0 only checks)."""
    try:
        os.kill(pid, 0)
    except PermissionError:
        return "EPERM"
    except ProcessLookupError:
        return "ESRCH"
    return "allowed"
