"""Whether this run is CI, where a missing service is a failure, never a skip.

One definition for both pytest plugins and every test: ``CI`` set to a true value
(``true``, ``1``, ``yes``, ``on``; GitHub Actions, GitLab and ``.ci/run`` set ``CI=true``).
"""

from __future__ import annotations

import os

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in TRUE_VALUES
