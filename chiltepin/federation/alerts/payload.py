"""The JSON an alert delivers: one documented, versioned shape.

::

    {
      "version": 1,                      # PAYLOAD_VERSION; a change of shape bumps it
      "event": "site_lost",              # an AlertKind value
      "run_dir": "/home/me/.chiltepin/runs/20261207-064000-1a2b3c",
      "site": "hera",                    # null for the run's own events
      "time": "2026-12-07T06:40:00.123+00:00",   # when it happened, ISO 8601, UTC
      "details": {...}                   # per event, see below
    }

``details`` per event:

- ``site_lost``: ``state`` (the endpoint's named state, or null), ``reason``;
- ``site_back``: ``state``, ``down_s`` (seconds it was lost);
- ``failure_rate``: ``rate``, ``threshold``, ``failed``, ``attempts`` (the window:
  the site's latest attempts that ended with a value or a site failure);
- ``budget_80`` / ``budget_100``: ``spent``, ``budget``, ``unit``, ``fraction``;
- ``run_finished``: ``tasks``, ``succeeded``, ``failed``, ``cancelled``, ``spent`` and
  ``unit`` (with a budget), and ``sites``: per site ``tasks`` (attempts placed),
  ``succeeded``, ``failed``, ``retries``, ``failovers``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from chiltepin.client.config import AlertKind

PAYLOAD_VERSION = 1


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: what happened (``kind``), to which site (None: the run), when (epoch
    seconds) and its details."""

    kind: AlertKind
    run_dir: str
    site: str | None
    at: float
    details: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        return {
            "version": PAYLOAD_VERSION,
            "event": self.kind.value,
            "run_dir": self.run_dir,
            "site": self.site,
            "time": datetime.fromtimestamp(self.at, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "details": self.details,
        }

    def body(self) -> bytes:
        """The payload as delivered: UTF-8 JSON."""
        return json.dumps(self.payload()).encode()
