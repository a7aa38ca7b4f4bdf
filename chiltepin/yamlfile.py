"""Read a YAML file into a pydantic model, reporting errors by file, line, key and allowed values.

pydantic's own messages ("Extra inputs are not permitted", a regex) are written for
programmers. Users editing a site file need ``hera.yaml:12: walltime: must be HH:MM:SS``
and, for a misspelt key, the list of keys that do exist. This module is the one edge where
that translation happens; every configuration file chiltepin reads goes through it.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from chiltepin.errors import ConfigError, ConfigErrors, did_you_mean

Model = TypeVar("Model", bound=BaseModel)
_SEXAGESIMAL_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_MERGE_TAG = "tag:yaml.org,2002:merge"
KeyPath = tuple[str | int, ...]


class _Loader(yaml.SafeLoader):
    """YAML 1.1 without sexagesimal numbers: ``walltime: 01:30:00`` stays a string.

    PyYAML would read it as 5400, a surprise nobody writing a site file expects.
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _SEXAGESIMAL_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


MAX_DOCUMENT_BYTES = 1 << 20
"""Largest YAML document read: site and sites files are a few kilobytes."""
MAX_EXPANDED_NODES = 100_000
"""Most values a document may hold once its aliases are expanded. Aliases share nodes,
so a few kilobytes of nested aliases ("billion laughs") stand for billions of values that
every later step (merging, validation, line recording) would walk."""


class _Refused(Exception):
    """A document is too large or expands too far (turned into a ConfigError by callers)."""


class _DuplicateKey(Exception):
    """A mapping gives one key twice (turned into a ConfigError naming both lines)."""

    advice = "give it once (YAML would silently keep only the last value)"

    def __init__(self, path: KeyPath, first: int, second: int) -> None:
        self.key = ".".join(str(part) for part in path)
        self.first = first
        self.second = second
        super().__init__(self.key)


def _expanded_size(root: yaml.Node) -> int:
    """Values ``root`` holds with every alias expanded, stopping past the cap."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise _Refused("an alias refers to a node that contains it (a recursive structure)")
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_EXPANDED_NODES:
                raise _Refused(
                    f"aliases expand to more than {MAX_EXPANDED_NODES} values; write the"
                    " values out, or use fewer nested aliases"
                )
        open_nodes.discard(key)
        sizes[key] = total
        return total

    return size(root)


def _nodes(root: yaml.Node) -> Iterator[tuple[yaml.Node, KeyPath]]:
    """Every node under ``root`` with its key path, each once (aliases are not followed
    again: their lines are the anchor's)."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, KeyPath]] = [(root, ())]
    while stack:
        current, path = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current, path
        if isinstance(current, yaml.MappingNode):
            stack.extend((value, (*path, str(key.value))) for key, value in current.value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, (*path, index)) for index, item in enumerate(current.value))


def _check_unique_keys(root: yaml.Node) -> None:
    """Refuse a mapping that gives a key twice: PyYAML keeps the last value without a word,
    so a site file with two ``account:`` lines would run with whichever came last. A merge
    key (``<<: *defaults``) is not a duplicate of the keys it brings in."""
    for node, path in _nodes(root):
        if not isinstance(node, yaml.MappingNode):
            continue
        first_lines: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
                continue
            line, written = key.start_mark.line + 1, (key.tag, key.value)
            if written in first_lines:
                raise _DuplicateKey((*path, str(key.value)), first_lines[written], line)
            first_lines[written] = line


def _compose(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse ``text`` once into its node graph and its data, within the bounds above."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise _Refused(f"document larger than {MAX_DOCUMENT_BYTES} bytes")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _expanded_size(node)
        _check_unique_keys(node)
        return node, loader.construct_document(node)
    except RecursionError:
        raise _Refused("nested more deeply than chiltepin reads") from None
    finally:
        loader.dispose()


def load_text(text: str, *, source: str = "<text>", key: str | None = None) -> Any:
    """Parse YAML text with chiltepin's loader (see :class:`_Loader`), bounded in size."""
    try:
        return _compose(text)[1]
    except _Refused as err:
        raise ConfigError(f"YAML refused: {err}", source=source, key=key) from None
    except _DuplicateKey as err:
        message = f"duplicate key {err.key!r}; {err.advice}"
        raise ConfigError(message, source=source, key=key) from None


@dataclass
class LocatedData:
    """A YAML mapping plus the line each key path was written on, per source file."""

    data: dict[str, Any]
    source: str
    lines: dict[KeyPath, int] = field(default_factory=dict)


def _record_lines(root: yaml.Node) -> dict[KeyPath, int]:
    """Line of every key path, not following aliases (their lines are the anchor's)."""
    lines: dict[KeyPath, int] = {}
    for node, path in _nodes(root):
        if isinstance(node, yaml.MappingNode):
            for key, _ in node.value:
                key_path: KeyPath = (*path, str(key.value))
                lines[key_path] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                item_path: KeyPath = (*path, index)
                lines[item_path] = item.start_mark.line + 1
    return lines


def read_text(path: Path, what: str = "file") -> str:
    """A configuration file as UTF-8 text, refused with a clear message when it is not:
    unreadable, larger than :data:`MAX_DOCUMENT_BYTES`, or not UTF-8 (naming the line)."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"cannot read {what}: {err.strerror}", source=path) from err
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ConfigError(
            f"{what} is larger than {MAX_DOCUMENT_BYTES} bytes; is this the right file?",
            source=path,
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"not UTF-8 text: byte 0x{raw[err.start]:02x} at offset {err.start};"
            " save the file as UTF-8",
            source=path,
            line=line,
        ) from None


def load_mapping(path: Path) -> LocatedData:
    """Parse ``path`` as a YAML mapping, keeping line numbers; syntax errors name the line."""
    text = read_text(path)
    try:
        node, data = _compose(text)
    except yaml.MarkedYAMLError as err:
        line = err.problem_mark.line + 1 if err.problem_mark else None
        raise ConfigError(f"invalid YAML: {err.problem}", source=path, line=line) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"invalid YAML: {err}", source=path) from err
    except _Refused as err:
        raise ConfigError(f"YAML refused: {err}", source=path) from None
    except _DuplicateKey as err:
        message = f"duplicate key: written on lines {err.first} and {err.second}; {err.advice}"
        raise ConfigError(message, source=path, key=err.key, line=err.second) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("must be a YAML mapping of key: value", source=path, line=1)
    lines = _record_lines(node) if node is not None else {}
    return LocatedData(data=data, source=str(path), lines=lines)


def _model_at(model: type[BaseModel], loc: KeyPath) -> type[BaseModel] | None:
    """The pydantic model class found by following ``loc`` through nested fields."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = _unwrap(info.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """Strip ``X | None`` and ``list[X]`` down to ``X`` so nested models are found."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(options[0]) if len(options) == 1 else annotation
    if origin is list:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation


def _message(model: type[BaseModel], error: Any) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    got = error.get("input")
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        keys = sorted(owner.model_fields) if owner else []
        hint = did_you_mean(str(loc[-1]), keys)
        return f"unknown key{hint}; allowed keys here: {', '.join(keys) or '(none)'}"
    if kind == "missing":
        return "required key is missing"
    if kind == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return f"must be one of {expected}; got {got!r}"
    if kind == "literal_error":
        return f"must be one of {error['ctx']['expected']}; got {got!r}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    msg = error["msg"]
    text = msg if msg[1:2].isupper() else msg[0].lower() + msg[1:]  # "UUID ..." stays
    text = text.replace("input should be", "must be")
    return f"{text}; got {got!r}" if not isinstance(got, dict) else text


def validate(model: type[Model], located: LocatedData, *sources: LocatedData) -> Model:
    """Validate ``located.data`` as ``model``; on failure raise every problem, with lines.

    ``sources`` are the layers that were merged into ``located`` (``--set``, the file, its
    ``extends`` parents); a problem is attributed to the first of them that wrote the key.
    """
    try:
        return model.model_validate(located.data)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            loc = tuple(error["loc"])
            source, line = located.source, _line_for(located, loc)
            for candidate in sources:
                if _writes(candidate.data, loc):
                    source, line = candidate.source, _line_for(candidate, loc)
                    break
            key = ".".join(str(p) for p in loc) or None
            problems.append(ConfigError(_message(model, error), source=source, key=key, line=line))
        problems.sort(key=lambda p: (p.source or "", p.line or 0))
        raise ConfigErrors(problems) from None


def _writes(data: Any, loc: KeyPath) -> bool:
    """Whether ``data`` itself sets the value at ``loc`` (a list is set as a whole)."""
    for part in loc:
        if isinstance(part, int):
            return True
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return bool(loc)


def _line_for(located: LocatedData, loc: KeyPath) -> int | None:
    for end in range(len(loc), 0, -1):
        if (line := located.lines.get(loc[:end])) is not None:
            return line
    return None
