"""Run at the start of every Python process whose ``PYTHONPATH`` begins with this
directory (an offline test session puts it there): the Globus Compute SDK's ``local``
environment then follows ``$CHILTEPIN_COMPUTE_URL`` (see ``chiltepin.upstream.compute_url``).

Never fails a process: anything that goes wrong here is ignored. The ``sitecustomize``
this one shadows (Debian's, say) still runs after it.
"""

from __future__ import annotations

import contextlib


def _follow() -> None:
    import os

    if not os.environ.get("CHILTEPIN_COMPUTE_URL"):
        return
    from chiltepin.upstream.compute_url import follow_environment

    follow_environment()


def _run_shadowed() -> None:
    import importlib.machinery
    import importlib.util
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


with contextlib.suppress(Exception):  # startup must never fail a process
    _follow()
with contextlib.suppress(Exception):
    _run_shadowed()
