"""A task's call, serialised once, and the serializer that does it.

Every task runs on its worker as ``probe(function, args, kwargs)`` (see
:mod:`chiltepin.probe`). The federation serialises the probe's arguments once per task,
at submit: that one string is what the payload check measures, what the journal keeps,
what a local engine runs (inside the task buffer) and what an endpoint is sent (as
:class:`SerializedArgs`). The probe itself and the empty keyword arguments are the same
for every task, so they are serialised once per process and never journalled.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Any

from globus_compute_sdk.serialize import AllCodeStrategies, ComputeSerializer

from chiltepin.client.limits import MAX_PAYLOAD_BYTES, too_large
from chiltepin.errors import ChiltepinError, shown
from chiltepin.probe import chiltepin_probe, portable_probe
from chiltepin.upstream.wire import dill_data_payload, writes_dill_data

_PLAIN_SCALARS = frozenset({type(None), bool, int, float, complex, str, bytes})
_PLAIN_DEPTH = 32


def is_plain(value: Any, depth: int = 0) -> bool:
    """True for numbers, strings, bytes, ``None`` and lists, tuples, sets and dicts of
    them (exact types, not subclasses): data the C pickler writes exactly as dill would,
    with no reference to any module a worker might lack."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    if depth >= _PLAIN_DEPTH:
        return False
    if kind is tuple or kind is list or kind is set or kind is frozenset:
        return all(is_plain(item, depth + 1) for item in value)
    if kind is dict:
        return all(is_plain(k, depth + 1) and is_plain(v, depth + 1) for k, v in value.items())
    return False


class SerializedArgs(tuple[Any, ...]):
    """Task arguments already serialised; :class:`CallSerializer` sends those bytes as
    they are instead of serialising the same values again."""

    serialized: str

    def __new__(cls, values: tuple[Any, ...], serialized: str) -> SerializedArgs:
        args = super().__new__(cls, values)
        args.serialized = serialized
        return args


class CallSerializer(ComputeSerializer):
    """The SDK's serializer with two shortcuts that change nothing on the wire.

    Plain data (:func:`is_plain`) is pickled by the C pickler under the dill data
    strategy's header; ``dill.loads`` on the worker reads it like any dill pickle, and the
    C pickler spares a submit dill's pure-Python pickling, otherwise its dearest step.
    :class:`SerializedArgs` are passed through as serialised. Anything else
    (functions, classes defined in ``__main__``, objects) goes to the configured strategy.
    """

    def serialize(self, data: Any) -> str:
        if isinstance(data, SerializedArgs):
            return data.serialized
        if writes_dill_data(self.data_serializer) and is_plain(data):
            return dill_data_payload(data)
        return super().serialize(data)


SERIALIZER = CallSerializer()
SOURCE_SERIALIZER = CallSerializer(strategy_code=AllCodeStrategies())
"""Functions as source (and dill, as a fallback) for workers whose Python or dill differ
from this client's (a run's ``functions_as_source``); their data is serialised as usual."""


class NotSerializable(ChiltepinError):
    """A task's function or argument cannot be serialised to be sent to a site."""


class NotCallable(ChiltepinError, TypeError):
    """What was given as a task's function cannot be called. Refused at submit: a worker
    would otherwise fail it with a traceback (and a hint about serialisation strategies
    that does not apply). A TypeError too, as calling it would have raised."""


def check_callable(fn: Any, where: str) -> None:
    """Refuse ``fn`` unless it can be called; ``where`` names the call (``Federation.map``)."""
    if not callable(fn):
        raise NotCallable(
            f"{where}: the function to run must be callable (a function, or an object with"
            f" __call__); got {shown(fn)} ({type(fn).__name__}). Pass the function itself, not"
            " its result: submit(f, x), not submit(f(x))"
        )


def _cause(err: BaseException) -> str:
    """The innermost reason a serialisation failed (the SDK wraps it in its own error)."""
    while True:
        inner = err.__cause__ if err.__cause__ is not None else err.__context__
        if inner is None:
            break
        err = inner
    return f"{type(err).__name__}: {err}"


def serialize(value: Any, what: str, serializer: CallSerializer = SERIALIZER) -> str:
    """``value`` serialised, or :class:`NotSerializable` naming ``what`` and why not."""
    try:
        return serializer.serialize(value)
    except Exception as err:
        raise NotSerializable(
            f"{what} ({type(value).__name__}) cannot be serialised to send to a site:"
            f" {_cause(err)}; pass data a worker can rebuild (plain values, paths) instead"
        ) from err


_VERBATIM_LOOKS = 10_000
"""Values :func:`verbatim_sizes` looks at, at most: every argument list a person writes,
and a bound on what a huge nested one costs each submit."""
_CONTAINERS = (list, tuple, set, frozenset)
_END = object()


def _parts(function: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """A call's parts by the name a message gives them."""
    parts: dict[str, Any] = {"the function": function}
    parts.update({f"argument {i}": a for i, a in enumerate(args)})
    parts.update({f"keyword argument {k!r}": v for k, v in kwargs.items()})
    return parts


def _largest(sizes: dict[str, int]) -> str:
    return max(sizes, key=sizes.__getitem__)


def _verbatim(value: Any) -> int:
    """Bytes a pickle of ``value`` holds as they are: a string (at least a byte per
    character), bytes, or a numeric numpy array (not one of objects: its items are
    pickled one by one, possibly smaller than their pointers)."""
    kind = type(value)
    if kind is str or kind is bytes or kind is bytearray:
        return len(value)
    if kind.__name__ == "ndarray" and kind.__module__ == "numpy" and not value.dtype.hasobject:
        return int(value.nbytes)
    return 0


def verbatim_sizes(parts: dict[str, Any]) -> dict[str, int]:
    """Per part, the bytes of the strings, bytes and numeric arrays in it (through lists,
    tuples, sets and dicts), each object counted once, as a pickle writes a repeated
    object once: a lower bound on the part's serialised size, found without copying it.
    Looks at :data:`_VERBATIM_LOOKS` values at most (what it has not seen, it does not
    count)."""
    seen: set[int] = set()
    looks = _VERBATIM_LOOKS
    sizes: dict[str, int] = {}
    for what, part in parts.items():
        total, pending = 0, [iter((part,))]
        while pending and looks > 0:
            value: Any = next(pending[-1], _END)
            if value is _END:
                pending.pop()
                continue
            looks -= 1
            if id(value) in seen:
                continue
            seen.add(id(value))
            if type(value) in _CONTAINERS:
                pending.append(iter(value))
            elif type(value) is dict:
                pending.append(itertools.chain.from_iterable(value.items()))
            else:
                total += _verbatim(value)
        sizes[what] = total
    return sizes


def _serialize_call(
    function: str, args: tuple[Any, ...], kwargs: dict[str, Any], parts: dict[str, Any]
) -> str:
    """The call's payload, or :class:`NotSerializable` naming the argument that cannot be
    serialised, or :class:`PayloadTooLarge` when serialising it ran out of memory."""
    try:
        return SERIALIZER.serialize((function, args, kwargs))
    except MemoryError:
        raise too_large("the call", "more than this process's memory holds") from None
    except Exception as err:
        for what, value in parts.items():
            serialize(value, what)
        raise NotSerializable(f"the call cannot be serialised: {_cause(err)}") from err


@functools.cache
def _constant_buffers(probe_by_reference: bool) -> tuple[str, str]:
    """The probe and the empty keyword arguments, serialised (once per process)."""
    probe = chiltepin_probe if probe_by_reference else portable_probe()
    return SERIALIZER.serialize(probe), SERIALIZER.serialize({})


@dataclass(frozen=True)
class Call:
    """``function(*args, **kwargs)`` for the probe: ``arguments`` is the serialised
    ``(function, args, kwargs)`` triple, ``function`` the serialised user function."""

    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    arguments: str

    @classmethod
    def of(cls, function: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        """Serialise a call, refusing one over the service's payload limit (what an
        endpoint is sent per task: these arguments) with its largest part named, and one
        that cannot be serialised with the argument that cannot named.

        A call whose strings, bytes and arrays alone are over the limit is refused before
        it is serialised: serialising copies it several times over (pickle, base64 lines,
        text), so a 3 GB argument would need tens of GB to be measured, and fail with a
        MemoryError instead of this refusal."""
        parts = _parts(function, args, kwargs)
        floors = verbatim_sizes(parts)
        floor = sum(floors.values()) * 4 // 3  # base64 of a pickle that holds them as they are
        if floor > MAX_PAYLOAD_BYTES:
            what = f"the call (largest part: {_largest(floors)})"
            raise too_large(what, f"at least {floor / 1e6:.1f} MB")
        arguments = _serialize_call(function, args, kwargs, parts)
        if len(arguments) > MAX_PAYLOAD_BYTES:
            size = len(arguments)
            # Dropped before the parts are serialised again, one at a time, to name the
            # largest: measuring never holds more than serialising the call did.
            del arguments
            sizes = {what: len(SERIALIZER.serialize(value)) for what, value in parts.items()}
            what = f"the call (largest part: {_largest(sizes)})"
            raise too_large(what, f"{size / 1e6:.1f} MB")
        return cls(function, args, kwargs, arguments)

    @classmethod
    def restore(cls, arguments: str) -> Call:
        """The call whose :attr:`arguments` a journal kept."""
        function, args, kwargs = SERIALIZER.deserialize(arguments)
        return cls(function, args, kwargs, arguments)

    def with_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        """The same function with other arguments (a site's own paths filled in)."""
        return Call.of(self.function, args, kwargs)

    def buffer(self, probe_by_reference: bool) -> str:
        """The task buffer the SDK and service would build: probe, arguments, no kwargs.
        ``probe_by_reference`` when the workers can import :mod:`chiltepin.probe`."""
        probe_buffer, no_kwargs = _constant_buffers(probe_by_reference)
        return SERIALIZER.pack_buffers([probe_buffer, self.arguments, no_kwargs])

    @property
    def sdk_args(self) -> SerializedArgs:
        """The probe's positional arguments for an SDK submit, already serialised."""
        return SerializedArgs((self.function, self.args, self.kwargs), self.arguments)
