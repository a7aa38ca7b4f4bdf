"""Asking a dashboard from a test as a client would: a GET's status and body, and whether
a port still accepts connections."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request


def get(url: str) -> tuple[int, bytes]:
    """The status and body of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def closed(port: int) -> bool:
    """Nothing listens on 127.0.0.1:``port`` any more."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0
