"""Minimal request/route types shared by the Compute and Auth route modules.

Kept apart from ``server.py`` so the route modules do not import the HTTP machinery (and so
they can be called directly in unit tests).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from chiltepin.testing.faults import error_body


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(400, "BAD_REQUEST", f"request body is not JSON: {exc}") from exc

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode(errors="replace")).items()}

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    @property
    def bearer_token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return None


@dataclass
class Response:
    status: int
    body: Any  # JSON-able
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """Raised by a handler to answer with the service's error shape."""

    def __init__(self, status: int, code: str, message: str, *args: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.args_ = args

    def response(self) -> Response:
        return Response(self.status, error_body(self.status, self.code, self.message, *self.args_))


Handler = Callable[[Request], Any]


@dataclass
class Route:
    """``method`` + a path template like ``/v2/endpoints/{endpoint_id}/status``."""

    name: str
    method: str
    template: str
    handler: Handler
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template.rstrip("/"))
        self.regex = re.compile(f"^{pattern}/?$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        m = self.regex.match(path)
        return m.groupdict() if m else None
