"""The dashboard's token kept in a file, so it outlives a restart.

A fresh token per start (the default, as Jupyter does) suits a person who opens the
printed URL. A Prometheus server scraping ``/metrics`` reads its bearer token from a
credentials file instead, and would lose the dashboard at every restart; ``chiltepin
dashboard --token-file FILE`` therefore takes the token from FILE, writing a new one there
(readable by its owner alone) when FILE does not exist yet. The file is the secret: one
that others may read, or that holds anything but one token, is refused with an error that
names it rather than served with.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path

from chiltepin.errors import ChiltepinError

TOKEN_BYTES = 24  # 192 random bits, as the default token
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,256}")  # URL-safe, at least 192 bits of base64


class TokenFileError(ChiltepinError):
    """A token file that cannot be used: unreadable, readable by others, or not a token."""


def new_token() -> str:
    """A random URL-safe token (what a dashboard uses when it is given none)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_from_file(path: Path) -> str:
    """The token in ``path``, made there (mode 0600) if the file does not exist.

    Raises:
        TokenFileError: naming the file, when others may read it, it holds no token, or
            it cannot be read or written.
    """
    path = path.expanduser()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    except OSError as err:
        raise TokenFileError(f"{path}: cannot write a new token there: {err.strerror}") from err
    token = new_token()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")
    return token


def _read(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as err:
        raise TokenFileError(f"{path}: cannot read the token: {err}") from err
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TokenFileError(
            f"{path}: others may read this token file (mode {stat.filemode(mode)});"
            f" allow its owner alone: chmod 600 {path}"
        )
    token = text.strip()
    if not _TOKEN.fullmatch(token):
        raise TokenFileError(
            f"{path}: expected one token of 32 to 256 characters from A-Z, a-z, 0-9, '_'"
            " and '-' (delete the file to have a new one written)"
        )
    return token
