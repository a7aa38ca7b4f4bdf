"""Exceptions that reach users. Every message names what is wrong and what is allowed."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'partition'?)`` for a near miss, else an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def shown(value: Any, limit: int = 120) -> str:
    """``repr(value)`` cut to ``limit`` characters: a message names a bad value, it does
    not print a megabyte of it."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ChiltepinError(Exception):
    """Base class: an error chiltepin reports to the user without a traceback."""


class ConfigError(ChiltepinError):
    """A configuration value is invalid.

    Carries the file, the dotted key path and (when the YAML loader knows it) the line, so
    the CLI can print ``hera.yaml:12: walltime: ...`` instead of a pydantic dump.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | Path | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.source = str(source) if source is not None else None
        self.key = key
        self.line = line
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        if self.source is None:
            return f"{self.key}: {self.detail}" if self.key else self.detail
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
        if self.key:
            return f"{where}: {self.key}: {self.detail}"
        return f"{where}: {self.detail}"


class ConfigErrors(ConfigError):
    """Several invalid values in one file, reported together so users fix them in one pass."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.detail, source=first.source, key=first.key, line=first.line)

    def _format(self) -> str:
        return "\n".join(str(e) for e in self.errors)
