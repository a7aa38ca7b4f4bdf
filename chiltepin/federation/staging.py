"""Staging inside a federation: per-site paths, and batched, shared transfers across tasks.

A task names its data once (``stage_in=[("globus://home/ic.nc", "{scratch}/ic.nc")]``) and
its arguments name site-side paths as :class:`SitePath` (``SitePath("{scratch}/ic.nc")``);
both are filled in for whichever site the task lands on (``{scratch}``, ``{run_id}``,
``{task_id}``, ``{user}``), again after a failover.

:class:`StagingQueue` gathers what many tasks ask for over a short window and hands it to
the :class:`~chiltepin.staging.Stager` in one call, so a 50-task fanout becomes a few
Transfer tasks, not 50, and an input shared by every task moves once per site; it forgets
what has settled, so a run of a million staged tasks costs the client no more memory than
a run of a thousand. Each batch is reported as it starts and ends
(:mod:`~chiltepin.federation.staging_events`), which the run journals for the dashboard.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from chiltepin.client.burst import Burst
from chiltepin.errors import shown
from chiltepin.federation import staging_events
from chiltepin.federation.journal_format import Direction, TransferEvent
from chiltepin.staging import Location, StagingError, expand, site_values
from chiltepin.staging.locations import LocationError, placeholders
from chiltepin.staging.stager import Stager

Pair = staging_events.Pair
PairSpec = tuple[str, str]

WINDOW_S = 0.2  # a request waits this long for others to join it (each Transfer task
# is a request against the service and takes seconds: few and full beats prompt)
MAX_ITEMS = 10_000  # pairs per Stager call (a Transfer task takes up to 10,000 items)
REMEMBER = 1_024  # successfully staged pairs kept, so a shared input is staged once


@dataclass(frozen=True)
class SitePath:
    """A path argument filled in for the site a task runs on (``{scratch}/ic.nc``).

    It lives in the site's per-run work area: the template starts with ``{scratch}`` and
    stays inside it (``..`` cannot climb out), checked here for its form and again for
    the site it is filled for.

    Args:
        template: the path, starting ``{scratch}/``; ``{run_id}`` and ``{task_id}`` are
            filled too.
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
        """The path on one site.

        Args:
            values: that site's placeholder values (``scratch``, ``run_id``, ``task_id``).
        """
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

    Requests go through a :class:`~chiltepin.client.burst.Burst`: pairs asked for while
    they keep coming (a fanout) are handed to the Stager in one call, delivered in order
    from one thread. A pair already on its way shares that staging: requested by many
    tasks at once, it moves once per site.

    A batch is staged per direction (stage-in, stage-out), and ``on_batch`` hears of it
    as it starts and as it ends (:mod:`~chiltepin.federation.staging_events`): a few
    events per batch, never per task.

    Once a pair has settled it is forgotten, so a long run's memory does not grow with its
    tasks. A failed pair is forgotten at once (a later request tries again); the last
    ``remember`` pairs staged successfully are kept in a bounded record (least recently
    asked for goes first), so an input shared by every task is not staged again while it
    is in use. A pair asked for again after it left the record is staged again: the
    Stager's checksum sync (its default ``sync_level``) leaves an identical destination as
    it is, so that is a check, not a copy.
    """

    def __init__(
        self,
        stager: Callable[[], Stager],
        *,
        window_s: float = WINDOW_S,
        max_items: int = MAX_ITEMS,
        remember: int = REMEMBER,
        on_batch: Callable[[TransferEvent], None] = lambda event: None,
    ) -> None:
        self._stager = stager
        self._on_batch = on_batch
        self._remember = remember
        self._in_flight: dict[Pair, Future[None]] = {}
        self._staged: OrderedDict[Pair, None] = OrderedDict()  # recent successes, oldest first
        self._lock = threading.Lock()
        self._closed = False
        self._burst: Burst[tuple[Pair, Direction]] = Burst(
            self._stage,
            name="chiltepin-staging",
            linger_s=window_s,
            max_hold_s=window_s,  # so a burst is what arrived within window_s of its first
            max_items=max_items,
        )

    def request(self, pairs: Iterable[Pair], *, direction: Direction) -> Future[None]:
        """A future that completes once every pair is in place, or fails with a
        :class:`StagingError` naming the pairs that could not be staged.

        Args:
            pairs: what to stage, filled for one site.
            direction: ``in`` (a task's inputs) or ``out`` (its outputs), as reported;
                a pair already in flight keeps the direction it was first asked for.
        """
        futures: list[Future[None]] = []
        new: list[Pair] = []
        with self._lock:
            if self._closed:
                return Future()
            for pair in pairs:
                if pair in self._staged:
                    self._staged.move_to_end(pair)
                    continue
                future = self._in_flight.get(pair)
                if future is None:
                    future = self._in_flight[pair] = Future()
                    new.append(pair)
                futures.append(future)
            for pair in new:  # under the lock: a pair is queued once, in request order
                self._burst.add((pair, direction))
        return _all_of(futures)

    def _stage(self, requests: list[tuple[Pair, Direction]]) -> None:
        """Stage what the Burst gathered (its thread), a batch per direction."""
        for direction in ("in", "out"):
            batch = [pair for pair, asked in requests if asked == direction]
            if batch:
                self._stage_batch(batch, direction)

    def _report(self, events: list[TransferEvent]) -> None:
        for event in events:
            self._on_batch(event)

    def _stage_batch(self, batch: list[Pair], direction: Direction) -> None:
        """Stage one batch, reporting it, then settle and forget its pairs."""
        outcomes: list[StagingError | None]
        self._report(staging_events.started(direction, batch, round(time.time(), 3)))
        try:
            report = self._stager().stage(batch, raise_on_failure=False)
        except Exception as err:  # before anything moved (a bad collection), or the
            # service could not be reached at all
            refusal = (
                err
                if isinstance(err, StagingError)
                else StagingError(f"staging could not start: {err}")
            )
            outcomes = [refusal] * len(batch)
            self._report(staging_events.refused(direction, batch, refusal, round(time.time(), 3)))
        else:
            outcomes = [
                None if item.ok else StagingError(item.describe(), [item]) for item in report.items
            ]
            self._report(staging_events.ended(direction, batch, report, round(time.time(), 3)))
        with self._lock:  # no longer in flight; a success joins the record
            futures = [self._in_flight.pop(pair) for pair in batch]
            for pair, error in zip(batch, outcomes, strict=True):
                if error is None:
                    self._staged[pair] = None
                    self._staged.move_to_end(pair)
            while len(self._staged) > self._remember:
                self._staged.popitem(last=False)
        for future, error in zip(futures, outcomes, strict=True):
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    @property
    def in_flight(self) -> int:
        """Pairs asked for and not settled yet."""
        with self._lock:
            return len(self._in_flight)

    @property
    def remembered(self) -> int:
        """Pairs kept in the record of recent successes (at most ``remember``): with
        :attr:`in_flight`, all the queue holds however long the run."""
        with self._lock:
            return len(self._staged)

    def close(self) -> None:
        """Stage what is still waiting, then stop the thread. Requests after this are not
        staged: their future stays pending (the run is over; a reattached run stages its
        unfinished tasks' pairs again)."""
        with self._lock:
            self._closed = True
        self._burst.close()


def _all_of(futures: list[Future[None]]) -> Future[None]:
    """One future for many: done when all are, failing with every failure named."""
    combined: Future[None] = Future()
    if not futures:
        combined.set_result(None)
        return combined
    lock = threading.Lock()
    remaining = [len(futures)]

    def one_done(_: Future[None]) -> None:
        with lock:
            remaining[0] -= 1
            if remaining[0]:
                return
        failures = [err for f in futures if (err := f.exception()) is not None]
        if failures:
            failed = [item for err in failures for item in getattr(err, "failed", [])]
            reasons = "; ".join(str(err) for err in failures)
            combined.set_exception(StagingError(f"staging failed: {reasons}", failed))
        else:
            combined.set_result(None)

    for future in futures:
        future.add_done_callback(one_done)
    return combined
