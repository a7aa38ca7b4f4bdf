"""A run view's aggregates saved beside its journal, so a big run's page opens at once.

Reading a million-task journal takes the view tens of seconds; its aggregates are a few
hundred kilobytes. After reading many lines the dashboard saves them to
``RUN/dashboard-view.json`` (written to a temporary file and renamed, so a reader never
sees half of one) with the byte offset they cover; the next view of the run loads them and
reads only the journal past that offset. The file is a cache: deleting it costs one full
read, and a dashboard that cannot write into a run directory just does not save one.

A snapshot is used only if the journal still starts with the bytes it was computed from:
the journal is at least as long as the offset and a fingerprint of its prefix matches.
The fingerprint hashes the prefix's first and last :data:`SAMPLE` bytes (the run's header,
and the lines just before the offset) rather than all of it, which would cost a read of
the whole journal, the very thing the snapshot saves; the journal is append-only, so a
replaced or truncated one differs there.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from chiltepin.federation.journal import JOURNAL
from chiltepin.system.files import write_atomically

SNAPSHOT = "dashboard-view.json"
FORMAT = 4  # bump whenever RunView.state()'s layout changes: older snapshots are ignored
# (2: endpoint ids and tasks out per site; 3: the run's transfers; 4: its agents)
SAMPLE = 64 * 1024


def fingerprint(journal: Path, offset: int) -> str | None:
    """A hash of the journal's first ``offset`` bytes' two ends; None if it is shorter."""
    digest = hashlib.blake2b(str(offset).encode(), digest_size=16)
    start = max(0, offset - SAMPLE)
    try:
        with journal.open("rb") as f:
            head = f.read(min(SAMPLE, offset))
            f.seek(start)
            tail = f.read(offset - start)
    except OSError:
        return None
    if len(head) != min(SAMPLE, offset) or len(tail) != offset - start:
        return None
    digest.update(head)
    digest.update(tail)
    return digest.hexdigest()


def load(run_dir: Path) -> dict[str, Any] | None:
    """The saved state of ``run_dir``'s view, if there is one and its journal still
    starts with what it covers; else None (the view reads the journal from its start)."""
    try:
        saved = json.loads((run_dir / SNAPSHOT).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        return None
    offset = saved.get("offset")
    if not isinstance(offset, int) or offset < 0:
        return None
    if saved.get("journal") != fingerprint(run_dir / JOURNAL, offset):
        return None
    state = saved.get("state")
    return state if isinstance(state, dict) and state.get("offset") == offset else None


def save(run_dir: Path, state: dict[str, Any]) -> bool:
    """Save ``state`` (covering the journal up to ``state["offset"]``) atomically;
    False if the run directory cannot be written (the snapshot is only a cache)."""
    offset = state["offset"]
    body = {
        "format": FORMAT,
        "offset": offset,
        "journal": fingerprint(run_dir / JOURNAL, offset),
        "state": state,
    }
    try:
        write_atomically(run_dir / SNAPSHOT, json.dumps(body, separators=(",", ":")))
    except OSError:
        return False
    return True
