"""``Stager``: the one front door for moving data in and out of sites.

Why one door: a task's inputs may come from a Globus collection, from this machine, or
both; the caller should hand over a list of (source, destination) pairs and get back one
report, not pick backends. ``file://`` → ``file://`` pairs go to the local copier;
``globus://`` pairs go to Transfer, batched per collection pair; both run at once.

Everything is checked before anything moves: locations parse, template placeholders have
values, no two pairs write the same destination from different sources, collection names
resolve to exactly one collection. Identical pairs are staged once. Globus is only
contacted when a ``globus://`` location is present, so local staging needs no login.

    stager = Stager()                                   # one per run; thread-safe
    values = site_values(site, run_id=run_id, task_id=task_id)
    report = stager.stage(
        [("globus://NOAA Hera/~/ic/member01.nc", at_site("{scratch}/ic/", values))],
        values=values,
        deadline=600,
    )                                   # raises StagingError naming every failed item
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import globus_sdk
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chiltepin.staging.errors import ConsentRequiredError, StagingError
from chiltepin.staging.local import LocalCopier
from chiltepin.staging.locations import Location, LocationError, expand
from chiltepin.staging.options import StagingOptions
from chiltepin.staging.resolve import CollectionInfo, CollectionResolver
from chiltepin.staging.results import ItemResult, StagingReport
from chiltepin.staging.transfer import TransferBackend, TransferOutcome

Deadline = float | int | timedelta | datetime | None


class StagePair(BaseModel):
    """One thing to stage: ``source`` → ``destination``.

    A directory source (trailing ``/``) fills the destination directory. A file source with
    a directory destination (trailing ``/``) lands inside it under its own name.
    """

    model_config = ConfigDict(frozen=True)

    source: Location = Field(
        description="where the data is: globus://<collection>/<path> or file:///<path>;"
        " a trailing / copies the directory tree"
    )
    destination: Location = Field(
        description="where it goes; a trailing / with a file source puts the file inside"
        " that directory under its own name"
    )

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        if isinstance(data, (tuple, list)):
            if len(data) != 2:
                raise ValueError(f"a pair is (source, destination), got {len(data)} values")
            data = {"source": data[0], "destination": data[1]}
        if not isinstance(data, Mapping):
            return data
        src = Location.parse(data["source"])
        dst = Location.parse(data["destination"])
        if src.recursive:
            dst = dst.model_copy(update={"recursive": True})
        elif dst.recursive:
            dst = dst.child(src.name)
        return {"source": src, "destination": dst}

    def __str__(self) -> str:
        return f"{self.source} -> {self.destination}"


PairLike = StagePair | tuple[Any, Any] | Mapping[str, Any]


def deadline_at(deadline: Deadline, default_s: float) -> float:
    """A ``time.monotonic()`` deadline from seconds, a timedelta, or an absolute datetime."""
    now = time.monotonic()
    if deadline is None:
        return now + default_s
    if isinstance(deadline, datetime):
        aware = deadline if deadline.tzinfo else deadline.astimezone()
        return now + (aware - datetime.now(timezone.utc)).total_seconds()
    if isinstance(deadline, timedelta):
        return now + deadline.total_seconds()
    if isinstance(deadline, (int, float)) and deadline > 0:
        return now + float(deadline)
    raise StagingError(
        f"deadline must be seconds (> 0), a timedelta or a datetime; got {deadline!r}"
    )


class Stager:
    """Stages pairs of locations and deletes locations, reporting every item.

    One per run is enough: it is thread-safe, and its Transfer client and collection
    lookups are reused by every call.

    Args:
        client: A ``globus_sdk.TransferClient`` to use, for a caller that manages its own
            Globus login. By default one is built on first need from chiltepin's Globus app
            (``chiltepin.auth.transfer_client(collections)``), which also lets chiltepin
            fetch ``data_access`` consent by itself under client credentials; local-only
            staging never builds one, so it needs no login.
        collections: Mapped collections to ask ``data_access`` consent for up front, so a
            person logging in is asked once, not after the first transfer fails for it.
        local_collection: A collection whose root is this machine's ``/`` (Globus Connect
            Personal). With it, ``file://`` ↔ ``globus://`` pairs go through Transfer;
            without it they are refused, since Transfer cannot reach a plain path here.
        **options: :class:`StagingOptions` fields (sync level, checksums, deadlines, ...),
            checked at once: a misspelt option is an error, not a silent default.
    """

    def __init__(
        self,
        client: globus_sdk.TransferClient | None = None,
        *,
        collections: Sequence[str] = (),
        local_collection: str | None = None,
        **options: Any,
    ) -> None:
        try:
            self.options = StagingOptions(**options)
        except ValidationError as err:
            raise StagingError(f"invalid staging options: {err}") from None
        self._client = client
        self._own_client = client is None
        self._collections = list(collections)
        self.local_collection = local_collection
        self.local = LocalCopier(self.options)
        self._backend: TransferBackend | None = None
        self._lock = threading.Lock()

    # -- Transfer client --------------------------------------------------------------
    @property
    def transfer(self) -> TransferBackend:
        """The Transfer backend (built, with its client, on first use)."""
        with self._lock:
            if self._backend is None:
                client = self._client or self._new_client()
                self._backend = TransferBackend(
                    client,
                    self.options,
                    resolver=CollectionResolver(client),
                    fix_consent=self._fix_consent,
                )
            return self._backend

    def _new_client(self) -> globus_sdk.TransferClient:
        from chiltepin import auth

        return auth.transfer_client(self._collections)

    def _fix_consent(self, wanted: list[str]) -> globus_sdk.TransferClient | None:
        """Client credentials can be granted ``data_access`` without a prompt: do it once."""
        from chiltepin import auth

        if not (self._own_client and self.options.auto_consent and auth.uses_client_credentials()):
            return None
        with self._lock:
            self._collections = list(dict.fromkeys([*self._collections, *wanted]))
            collections = list(self._collections)
        auth.login(collections, force=True)  # a fresh client-credentials grant, no prompt
        return auth.transfer_client(collections)

    def resolve_collection(self, ref: str) -> CollectionInfo:
        """The collection a UUID or exact display name names (errors list candidates).

        Args:
            ref: A collection UUID or its exact display name, as written after
                ``globus://``. A name must match exactly one collection: a guess could move
                data to the wrong place.
        """
        return self.transfer.resolver.resolve(ref)

    # -- stage ------------------------------------------------------------------------
    def stage(
        self,
        pairs: Iterable[PairLike],
        *,
        deadline: Deadline = None,
        values: Mapping[str, Any] | None = None,
        raise_on_failure: bool = True,
    ) -> StagingReport:
        """Copy every pair; return the report, or raise ``StagingError`` naming failures.

        Everything is checked before anything moves, so a typo in the tenth pair does not
        leave nine copied.

        Args:
            pairs: (source, destination) locations, as tuples, mappings or
                :class:`StagePair`: ``globus://<collection>/<path>`` or ``file:///<path>``;
                a trailing ``/`` on the source copies a directory tree. Identical pairs are
                staged once; two sources for one destination are an error.
            deadline: Seconds from now, a ``timedelta`` or a ``datetime``; when it passes,
                running Transfer tasks are cancelled and unfinished items fail with
                ``TIMEOUT``, so a stuck transfer never holds a run forever. Default:
                ``default_deadline_s`` of the options.
            values: Fills ``{scratch}``, ``{run_id}``, ``{task_id}``, ``{user}``,
                ``{collection}`` in both sides (see :func:`chiltepin.staging.site_values`),
                so one list of pairs serves every site.
            raise_on_failure: With ``False``, return the report even when items failed,
                for a caller that handles them item by item.
        """
        started = time.monotonic()
        until = deadline_at(deadline, self.options.default_deadline_s)
        parsed = [self._pair(p, values or {}) for p in pairs]
        unique, slot = self._dedupe(parsed)
        local = [(i, p.source, p.destination) for i, p in enumerate(unique) if p.source.is_local]
        remote = [(i, p.source, p.destination) for i, p in enumerate(unique) if p.source.is_globus]
        if remote:  # fail on a bad collection name before anything moves
            refs = {r or "" for _, s, d in remote for r in (s.collection, d.collection)}
            for ref in sorted(refs):
                self.transfer.resolver.resolve(ref)
        results: dict[int, ItemResult] = {}
        outcome: TransferOutcome | None = None
        with ThreadPoolExecutor(1, "chiltepin-transfer") as pool:
            future = pool.submit(self.transfer.copy, remote, until) if remote else None
            results.update(self.local.copy(local, until) if local else [])
            if future is not None:
                outcome = future.result()
                results.update(outcome.items)
        report = StagingReport(
            items=[results[slot[i]] for i in range(len(parsed))],
            tasks=outcome.tasks if outcome else [],
            elapsed_s=time.monotonic() - started,
        )
        return self._finish(report, outcome, "staging", raise_on_failure)

    def _pair(self, pair: PairLike, values: Mapping[str, Any]) -> StagePair:
        try:
            if isinstance(pair, StagePair):
                src, dst = pair.source, pair.destination
            elif isinstance(pair, Mapping):
                src, dst = pair["source"], pair["destination"]
            else:
                src, dst = pair
            src, dst = expand(src, values), expand(dst, values)
            if src.is_local != dst.is_local:
                src, dst = self._via_local_collection(src, dst)
            return StagePair.model_validate({"source": src, "destination": dst})
        except LocationError:
            raise
        except (ValidationError, ValueError, TypeError, KeyError) as err:
            raise LocationError(f"bad staging pair {pair!r}: {err}") from None

    def _via_local_collection(self, src: Location, dst: Location) -> tuple[Location, Location]:
        if self.local_collection is None:
            raise LocationError(
                f"cannot stage {src} -> {dst}: one side is this machine's file system and the"
                " other a Globus collection. Name this machine's collection"
                " (Stager(local_collection=...), e.g. Globus Connect Personal) or use"
                " globus:// on both sides."
            )

        def lift(loc: Location) -> Location:
            if loc.is_globus:
                return loc
            return Location(
                scheme="globus",
                collection=self.local_collection,
                path=loc.path,
                recursive=loc.recursive,
            )

        return lift(src), lift(dst)

    @staticmethod
    def _dedupe(pairs: list[StagePair]) -> tuple[list[StagePair], list[int]]:
        """Identical pairs are staged once; one destination from two sources is an error."""
        unique: list[StagePair] = []
        index: dict[tuple[str, str], int] = {}
        writer: dict[str, str] = {}
        slot: list[int] = []
        conflicts = []
        for pair in pairs:
            src, dst = str(pair.source), str(pair.destination)
            if writer.setdefault(dst, src) != src:
                conflicts.append(f"  - {dst} from both {writer[dst]} and {src}")
            key = (src, dst)
            if key not in index:
                index[key] = len(unique)
                unique.append(pair)
            slot.append(index[key])
        if conflicts:
            raise StagingError(
                "two staging pairs write the same destination from different sources:\n"
                + "\n".join(conflicts)
            )
        return unique, slot

    # -- delete -----------------------------------------------------------------------
    def delete(
        self,
        locations: Iterable[str | Location],
        *,
        deadline: Deadline = None,
        values: Mapping[str, Any] | None = None,
        missing_ok: bool = False,
        raise_on_failure: bool = True,
    ) -> StagingReport:
        """Delete files (and, with a trailing ``/``, directory trees); Globus deletes are
        batched into one Delete task per collection (and recursive flag).

        Args:
            locations: ``globus://`` or ``file://`` locations; a trailing ``/`` deletes a
                directory tree.
            deadline: As for :meth:`stage`.
            values: As for :meth:`stage`: fills the template placeholders.
            missing_ok: Count a location that is already gone as deleted, for clean-ups
                that may run twice.
            raise_on_failure: As for :meth:`stage`.
        """
        started = time.monotonic()
        until = deadline_at(deadline, self.options.default_deadline_s)
        locs = [expand(loc, values or {}) for loc in locations]
        unique = list(dict.fromkeys(locs))
        slot = [unique.index(loc) for loc in locs]
        local = [(i, loc) for i, loc in enumerate(unique) if loc.is_local]
        remote = [(i, loc) for i, loc in enumerate(unique) if loc.is_globus]
        for ref in sorted({loc.collection or "" for _, loc in remote}):
            self.transfer.resolver.resolve(ref)
        results: dict[int, ItemResult] = dict(self.local.delete(local, missing_ok=missing_ok))
        outcome = self.transfer.delete(remote, until, missing_ok=missing_ok) if remote else None
        if outcome is not None:
            results.update(outcome.items)
        report = StagingReport(
            items=[results[slot[i]] for i in range(len(locs))],
            tasks=outcome.tasks if outcome else [],
            elapsed_s=time.monotonic() - started,
        )
        return self._finish(report, outcome, "delete", raise_on_failure)

    # -- outcome ----------------------------------------------------------------------
    def _finish(
        self,
        report: StagingReport,
        outcome: TransferOutcome | None,
        what: str,
        raise_on_failure: bool,
    ) -> StagingReport:
        if report.ok or not raise_on_failure:
            return report
        if outcome is not None and outcome.consent_collections:
            raise ConsentRequiredError(
                outcome.consent_collections,
                outcome.consent_scopes,
                failed=report.failed,
                report=report,
            )
        raise StagingError.from_report(report, what)
