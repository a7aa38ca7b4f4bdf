"""Staging errors: every failed item named, and for consent the exact command that fixes it.

Peers lose staging failures (a skipped file, a transfer that timed out and kept running, a
``ConsentRequired`` buried in a traceback). Here a failure is always an exception that
carries the items (``.failed``) and the whole report (``.report``), and whose message a
user can act on without reading code.
"""

from __future__ import annotations

from collections.abc import Sequence

from chiltepin.errors import ChiltepinError
from chiltepin.staging.results import ItemResult, StagingReport

MAX_LISTED = 100
"""Items spelled out in an error message; all of them are always in ``.failed``."""


def _listing(failed: Sequence[ItemResult]) -> str:
    lines = [f"  - {item.describe()}" for item in failed[:MAX_LISTED]]
    if len(failed) > MAX_LISTED:
        lines.append(
            f"  ... and {len(failed) - MAX_LISTED} more (every one is in StagingError.failed)"
        )
    return "\n".join(lines)


class StagingError(ChiltepinError):
    """Some items were not staged. ``failed`` names each one with its reason."""

    def __init__(
        self,
        message: str,
        failed: Sequence[ItemResult] = (),
        report: StagingReport | None = None,
    ) -> None:
        self.failed: list[ItemResult] = list(failed)
        self.report = report
        self.headline = message
        super().__init__(f"{message}\n{_listing(self.failed)}" if self.failed else message)

    @classmethod
    def from_report(cls, report: StagingReport, what: str = "staging") -> StagingError:
        failed = report.failed
        return cls(f"{what} failed for {len(failed)} of {len(report.items)} items:", failed, report)


class ConsentRequiredError(StagingError):
    """A mapped collection needs ``data_access`` consent; ``command`` grants it."""

    def __init__(
        self,
        collections: Sequence[str],
        required_scopes: Sequence[str],
        *,
        failed: Sequence[ItemResult] = (),
        report: StagingReport | None = None,
    ) -> None:
        self.collections = list(dict.fromkeys(collections))
        self.required_scopes = list(required_scopes)
        flags = " ".join(f"--collection {c}" for c in self.collections)
        self.command = f"chiltepin login {flags}"
        names = ", ".join(self.collections) or "(not named by the service)"
        message = (
            f"Globus Transfer needs data_access consent for collection(s) {names}."
            f" Fix: run `{self.command}` (then retry). Items not staged:"
        )
        super().__init__(message, failed, report)


class CollectionLookupError(StagingError):
    """A collection display name matched no collection, or more than one."""

    def __init__(self, name: str, candidates: Sequence[tuple[str, str, str]], *, ambiguous: bool):
        self.name = name
        self.candidates = list(candidates)  # (id, display_name, owner)
        self.ambiguous = ambiguous
        listing = "\n".join(f"  - {cid}  {dn!r}  (owner {owner})" for cid, dn, owner in candidates)
        if ambiguous:
            message = (
                f"collection name {name!r} is ambiguous: {len(candidates)} collections have"
                f" exactly that display name; use the UUID instead:\n{listing}"
            )
        elif candidates:
            message = (
                f"no collection is named exactly {name!r}; a search for it found:\n{listing}\n"
                "use one of these UUIDs or its exact display name"
            )
        else:
            message = (
                f"no collection is named {name!r} and a search for it found nothing;"
                " check the name (display names are matched exactly) or use the UUID"
            )
        super().__init__(message)
