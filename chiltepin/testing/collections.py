"""Stand-in Transfer collections: one local directory each, plus their fault switches.

Why a directory per collection: the staging code must be tested against real files (real
copies, real checksums, real missing paths), and a directory is the smallest thing that
behaves like a Globus Connect Server collection rooted somewhere on a file system.

Paths are Globus paths: absolute (``/a/b``) or home-relative (``/~/a``, ``~/a``); the
collection's home (its ``default_directory``) is its root, so ``/~/x`` and ``/x`` are the
same file.  A path can never leave the root (``..`` is refused), so a test cannot make the
stand-in touch anything outside its state directory.

Fault switches live on the collection so that every task touching it sees them:
``denied`` path prefixes (PERMISSION_DENIED), ``requires_consent`` (ConsentRequired unless
the token carries this collection's ``data_access`` scope), ``corrupt`` destination
patterns (bytes flipped after a copy, so checksum verification fails) and a throttle.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chiltepin.testing.routing import ApiError

DATA_ACCESS_SCOPE = "https://auth.globus.org/scopes/{collection_id}/data_access"
TRANSFER_SCOPE = "urn:globus:auth:scope:transfer.api.globus.org:all"
STAND_IN_NOTE = "chiltepin LOCAL STAND-IN collection -- not Globus; files live in {root}"


class PathError(Exception):
    """A Globus path that is malformed or escapes the collection root."""


@dataclass
class CorruptRule:
    """Flip bytes of destination files matching ``pattern`` (``times`` copies, or forever)."""

    pattern: str
    times: int | None = None
    fired: int = 0

    def take(self, path: str) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        if not (fnmatch.fnmatchcase(path, self.pattern) or path.startswith(self.pattern)):
            return False
        self.fired += 1
        return True


@dataclass
class Collection:
    """One stand-in collection (GCSv5 mapped or guest collection look-alike)."""

    id: str
    display_name: str
    root: Path
    mapped: bool = False
    requires_consent: bool = False
    owner_string: str = "standin-user@chiltepin.local"
    description: str = ""
    denied: list[str] = field(default_factory=list)  # normalised path prefixes
    corrupt: list[CorruptRule] = field(default_factory=list)
    bytes_per_s: float | None = None
    item_delay_s: float = 0.0

    @property
    def entity_type(self) -> str:
        return "GCSv5_mapped_collection" if self.mapped else "GCSv5_guest_collection"

    @property
    def data_access_scope(self) -> str:
        return DATA_ACCESS_SCOPE.format(collection_id=self.id)

    # -- paths ------------------------------------------------------------------------
    def normalise(self, path: str) -> str:
        """The canonical absolute Globus path (``/a/b``) for ``path``."""
        if not path:
            raise PathError("empty path")
        p = path
        if p.startswith("/~"):
            p = p[2:]
        elif p.startswith("~"):
            p = p[1:]
        if not p.startswith("/"):
            raise PathError(f"path must be absolute or start with ~: {path!r}")
        parts = [x for x in p.split("/") if x not in ("", ".")]
        if ".." in parts:
            raise PathError(f"'..' is not allowed in a stand-in path: {path!r}")
        return "/" + "/".join(parts)

    def local(self, path: str) -> Path:
        """The file behind a Globus path (never outside ``root``)."""
        rel = self.normalise(path).lstrip("/")
        return self.root / rel if rel else self.root

    def is_denied(self, path: str) -> bool:
        norm = self.normalise(path)
        return any(norm == d or norm.startswith(d.rstrip("/") + "/") for d in self.denied)

    def take_corruption(self, path: str) -> bool:
        norm = self.normalise(path)
        return any(rule.take(norm) for rule in self.corrupt)

    def clear_faults(self) -> None:
        self.denied.clear()
        self.corrupt.clear()
        self.bytes_per_s = None
        self.item_delay_s = 0.0

    # -- documents --------------------------------------------------------------------
    def doc(self) -> dict[str, Any]:
        """The endpoint document ``GET /endpoint/{id}`` and ``endpoint_search`` return."""
        return {
            "DATA_TYPE": "endpoint",
            "id": self.id,
            "display_name": self.display_name,
            "canonical_name": f"{self.owner_string}#{self.display_name}",
            "name": self.display_name,
            "entity_type": self.entity_type,
            "owner_string": self.owner_string,
            "owner_id": "5e7a1d1e-0000-4c11-8e11-000000057a4d",
            "username": self.owner_string.split("@")[0],
            "organization": "chiltepin stand-in (not Globus)",
            "department": None,
            "description": self.description or STAND_IN_NOTE.format(root=self.root),
            "keywords": "chiltepin,stand-in",
            "contact_email": None,
            "contact_info": None,
            "info_link": None,
            "public": False,
            "is_globus_connect": False,
            "gcp_connected": None,
            "gcp_paused": None,
            "gcs_version": "5.4.0-chiltepin-stand-in",
            "host_endpoint_id": None,
            "mapped_collection_id": None,
            "high_assurance": False,
            "authentication_assurance_timeout": None,
            "requires_data_access_consent": self.requires_consent,
            "non_functional": False,
            "non_functional_endpoint_display_name": None,
            "non_functional_endpoint_id": None,
            "default_directory": "/~/",
            "force_encryption": False,
            "force_verify": False,
            "disable_verify": False,
            "disable_anonymous_writes": False,
            "mfa_required": False,
            "activated": True,
            "expires_in": -1,
            "acl_available": False,
            "acl_editable": False,
            "in_use": False,
            "shareable": False,
            "subscription_id": None,
            "local_user_info_available": True,
            "https_server": None,
            "tlsftp_server": None,
            # GCSv4-era fields Transfer still sends for every endpoint, unset for GCSv5
            "french_english_bilingual": False,
            "globus_connect_setup_key": None,
            "s3_url": None,
            "s3_owner_activated": False,
            "host_path": None,
            "myproxy_server": None,
            "myproxy_dn": None,
            "oauth_server": None,
            "expire_time": None,
            "DATA": [],
            "stand_in": True,
        }


class CollectionStore:
    """All stand-in collections, by id, behind one lock."""

    def __init__(self, base_dir: Path | None) -> None:
        self.base_dir = base_dir
        self._own_dir = False
        self.lock = threading.RLock()
        self._by_id: dict[str, Collection] = {}

    def _base(self) -> Path:
        if self.base_dir is None:
            self.base_dir = Path(tempfile.mkdtemp(prefix="chiltepin-standin-collections-"))
            self._own_dir = True
        return self.base_dir

    def cleanup(self) -> None:
        """Remove the collections' directories if this store created their parent."""
        if self._own_dir and self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def add(
        self,
        display_name: str,
        *,
        root: str | Path | None = None,
        mapped: bool = False,
        requires_consent: bool = False,
        collection_id: str | None = None,
        description: str = "",
    ) -> Collection:
        if not display_name or not display_name.strip():
            raise ValueError("a collection needs a display name")
        cid = str(uuid.UUID(collection_id)) if collection_id else str(uuid.uuid4())
        with self.lock:
            if cid in self._by_id:
                raise ValueError(f"collection {cid} already exists")
            path = Path(root) if root is not None else self._base() / cid
            path.mkdir(parents=True, exist_ok=True)
            coll = Collection(
                cid,
                display_name,
                path.resolve(),
                mapped=mapped,
                requires_consent=requires_consent,
                description=description,
            )
            self._by_id[cid] = coll
            return coll

    def all(self) -> list[Collection]:
        with self.lock:
            return list(self._by_id.values())

    def find(self, collection_id: str) -> Collection | None:
        try:
            key = str(uuid.UUID(str(collection_id)))
        except ValueError:
            return None
        with self.lock:
            return self._by_id.get(key)

    def get(self, collection_id: str) -> Collection:
        """The collection, or the service's 404 ``EndpointNotFound``."""
        coll = self.find(collection_id)
        if coll is None:
            raise ApiError(
                404,
                "EndpointNotFound",
                f"No such endpoint or collection with id {collection_id!r}"
                " (chiltepin stand-in: add it with GlobusStandIn.add_collection)",
            )
        return coll

    def search(self, fulltext: str | None, entity_type: str | None = None) -> list[Collection]:
        """Full-text match on display name, description and owner (case-insensitive words)."""
        words = [w for w in re.split(r"\s+", (fulltext or "").lower()) if w]
        out = []
        for coll in self.all():
            if entity_type and coll.entity_type != entity_type:
                continue
            haystack = " ".join(
                (coll.display_name, coll.description, coll.owner_string, coll.id)
            ).lower()
            if all(w in haystack for w in words):
                out.append(coll)
        return sorted(out, key=lambda c: (c.display_name.lower(), c.id))

    def clear_faults(self) -> None:
        for coll in self.all():
            coll.clear_faults()


def scope_has_data_access(scopes: str, collection_id: str) -> bool:
    """Whether a requested scope string carries ``data_access`` for ``collection_id``."""
    return DATA_ACCESS_SCOPE.format(collection_id=collection_id) in scopes


def required_scope(collection_ids: list[str]) -> str:
    """The Transfer scope with optional ``data_access`` dependencies, as Transfer names it."""
    deps = " ".join("*" + DATA_ACCESS_SCOPE.format(collection_id=c) for c in collection_ids)
    return f"{TRANSFER_SCOPE}[{deps}]"


def join(base: str, name: str) -> str:
    return posixpath.join(base, name)
