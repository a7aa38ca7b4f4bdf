"""Collection names to UUIDs: exactly one match, or an error that lists the candidates.

Why: a display name is what people remember ("NOAA RDHPCS Hera"), but display names are not
unique, and taking "the last match" (as peers do) silently sends data to the wrong place.
A UUID is checked once (``get_endpoint``) so a typo fails before anything is submitted.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any

import globus_sdk

from chiltepin.staging.errors import CollectionLookupError

SEARCH_LIMIT = 100


@dataclass(frozen=True)
class CollectionInfo:
    id: str
    display_name: str
    entity_type: str | None = None
    owner: str | None = None


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _info(doc: Any) -> CollectionInfo:
    return CollectionInfo(
        id=str(doc["id"]),
        display_name=str(doc.get("display_name") or doc.get("name") or doc["id"]),
        entity_type=doc.get("entity_type"),
        owner=doc.get("owner_string"),
    )


class CollectionResolver:
    """Resolves and caches collection references for one Transfer client."""

    def __init__(self, client: globus_sdk.TransferClient) -> None:
        self.client = client
        self._cache: dict[str, CollectionInfo] = {}
        self._lock = threading.Lock()

    def resolve(self, ref: str) -> CollectionInfo:
        """The one collection ``ref`` (a UUID or an exact display name) names."""
        with self._lock:
            hit = self._cache.get(ref)
        if hit is not None:
            return hit
        info = self._by_id(ref) if is_uuid(ref) else self._by_name(ref)
        with self._lock:
            self._cache[ref] = info
            self._cache[info.id] = info
        return info

    def _by_id(self, ref: str) -> CollectionInfo:
        try:
            return _info(self.client.get_endpoint(ref))
        except globus_sdk.TransferAPIError as err:
            if err.http_status == 404:
                raise CollectionLookupError(ref, [], ambiguous=False) from None
            raise

    def _by_name(self, name: str) -> CollectionInfo:
        hits = [
            _info(doc)
            for doc in self.client.endpoint_search(filter_fulltext=name, limit=SEARCH_LIMIT)
        ]
        exact = [h for h in hits if h.display_name == name]
        if len(exact) == 1:
            return exact[0]
        shown = exact if exact else hits[:10]
        candidates = [(h.id, h.display_name, h.owner or "?") for h in shown]
        raise CollectionLookupError(name, candidates, ambiguous=len(exact) > 1)
