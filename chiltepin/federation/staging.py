"""Staging inside a federation: per-site paths, and batched, shared transfers across tasks.

A task names its data once (``stage_in=[("globus://home/ic.nc", "{scratch}/ic.nc")]``) and
its arguments name site-side paths as :class:`SitePath` (``SitePath("{scratch}/ic.nc")``);
both are filled in for whichever site the task lands on (``{scratch}``, ``{run_id}``,
``{task_id}``, ``{user}``), again after a failover.

:class:`StagingQueue` gathers what many tasks ask for over a short window and hands it to
the :class:`~chiltepin.staging.Stager` in one call, so a 50-task fanout becomes a few
Transfer tasks, not 50, and an input shared by every task moves once per site.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from chiltepin.errors import shown
from chiltepin.staging import Location, StagingError, expand, site_values
from chiltepin.staging.locations import LocationError, placeholders
from chiltepin.staging.stager import Stager

Pair = tuple[Location, Location]
PairSpec = tuple[str, str]


@dataclass(frozen=True)
class SitePath:
    """A path argument filled in for the site a task runs on (``{scratch}/ic.nc``).

    It lives in the site's per-run work area: the template starts with ``{scratch}`` and
    stays inside it (``..`` cannot climb out), checked here for its form and again for
    the site it is filled for.
    """

    template: str

    def __post_init__(self) -> None:
        text = self.template
        if not isinstance(text, str) or not (text == "{scratch}" or text.startswith("{scratch}/")):
            raise LocationError(
                f"SitePath must start with '{{scratch}}/' (the site's per-run work area);"
                f" got {text!r}"
            )
        placeholders(text)  # a malformed template is refused now, not on the site

    def at(self, values: dict[str, str]) -> str:
        return expand(f"file://{self.template}", values).path


def fill_args(
    args: tuple[Any, ...], kwargs: dict[str, Any], values: dict[str, str]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Arguments with every :class:`SitePath` replaced by the site's path."""

    def fill(value: Any) -> Any:
        return value.at(values) if isinstance(value, SitePath) else value

    return tuple(fill(a) for a in args), {k: fill(v) for k, v in kwargs.items()}


def has_site_paths(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    return any(isinstance(v, SitePath) for v in (*args, *kwargs.values()))


_PAIR = (
    "a (source, destination) pair of locations (strings, paths or Location objects),"
    " e.g. ('globus://NOAA Hera DTN/data/ic.nc', '{scratch}/ic.nc')"
)


def stage_specs(value: Any, argument: str) -> tuple[PairSpec, ...]:
    """A task's ``stage_in``/``stage_out`` as (source, destination) strings, checked at
    submit. Unpacking each item instead would turn a two-character string into a "pair"
    of characters and anything else into a bare ValueError or TypeError."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise LocationError(
            f"{argument}: must be a list of pairs, each {_PAIR}; got {shown(value)}"
        )
    return tuple(_stage_spec(item, argument, index) for index, item in enumerate(value))


def _stage_spec(item: Any, argument: str, index: int) -> PairSpec:
    if not (isinstance(item, tuple | list) and len(item) == 2):
        raise LocationError(f"{argument} item {index}: must be {_PAIR}; got {shown(item)}")
    for part in item:
        if not isinstance(part, str | PurePath | Location):
            raise LocationError(
                f"{argument} item {index}: must be {_PAIR}; got {shown(item)}"
                f" ({type(part).__name__} is not a location)"
            )
    return str(item[0]), str(item[1])


def concrete_pairs(specs: Sequence[PairSpec], values: dict[str, str]) -> list[Pair]:
    """Stage pairs with their templates filled for one site and task."""
    return [(expand(src, values), expand(dst, values)) for src, dst in specs]


def template_values(site: Any, run_id: str, task_id: str) -> dict[str, str]:
    return site_values(site, run_id=run_id, task_id=task_id)


class StagingQueue:
    """Batches stage requests from many tasks into few ``Stager.stage`` calls.

    Each distinct (source, destination) pair is staged once per run: later requests for a
    pair already staged (or on its way) share its outcome.
    """

    def __init__(self, stager: Callable[[], Stager], *, linger_s: float = 0.2) -> None:
        self._stager = stager
        self._linger_s = linger_s
        self._known: dict[Pair, Future[None]] = {}
        self._pending: list[Pair] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="chiltepin-staging", daemon=True)
        self._thread.start()

    def request(self, pairs: Iterable[Pair]) -> Future[None]:
        """A future that completes once every pair is in place, or fails with a
        :class:`StagingError` naming the pairs that could not be staged."""
        futures = []
        with self._lock:
            for pair in pairs:
                future = self._known.get(pair)
                if future is None:
                    future = self._known[pair] = Future()
                    self._pending.append(pair)
                futures.append((pair, future))
        self._wake.set()
        combined: Future[None] = Future()
        remaining = [len(futures)]

        def one_done(_: Future[None]) -> None:
            with self._lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if not last:
                return
            failures = [f.exception() for _, f in futures if f.exception() is not None]
            if failures:
                failed = [item for err in failures for item in getattr(err, "failed", [])]
                reasons = "; ".join(str(err) for err in failures)
                combined.set_exception(StagingError(f"staging failed: {reasons}", failed))
            else:
                combined.set_result(None)

        if not futures:
            combined.set_result(None)
        for _, future in futures:
            future.add_done_callback(one_done)
        return combined

    def _run(self) -> None:
        while not self._closing:
            self._wake.wait()
            self._wake.clear()
            if self._closing:
                break
            threading.Event().wait(self._linger_s)  # let the rest of a burst arrive
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            futures = [self._known[p] for p in batch]
        if not batch:
            return
        try:
            report = self._stager().stage(batch, raise_on_failure=False)
        except StagingError as err:  # failed before anything moved (e.g. a bad collection)
            for future in futures:
                future.set_exception(err)
            return
        except Exception as err:  # the service could not be reached at all
            for future in futures:
                future.set_exception(StagingError(f"staging could not start: {err}"))
            return
        for future, item in zip(futures, report.items, strict=True):
            if item.ok:
                future.set_result(None)
            else:
                future.set_exception(StagingError(item.describe(), [item]))

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        self._thread.join()
