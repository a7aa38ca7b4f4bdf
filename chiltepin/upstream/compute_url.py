"""Where globus-compute's ``local`` environment finds the web service.

``globus_compute_sdk.sdk._environments.get_web_service_url("local")`` is hard-wired to
``http://localhost:5000`` (globus-compute-sdk 4.19.0), and nothing reads a URL from the
environment: not the SDK's ``Client`` (``local_compute_services=True`` or
``GLOBUS_SDK_ENVIRONMENT=local``; ``GLOBUS_SDK_SERVICE_URL_COMPUTE`` is read only by
``globus_sdk``'s own compute clients), nor the endpoint, which registers and looks up its
identities through such a ``Client`` (``local_compute_services: true`` in its config.yaml).
So every offline stand-in would need port 5000, and two test sessions on one machine
could not run side by side.

:func:`follow_environment` makes ``local`` resolve to ``$CHILTEPIN_COMPUTE_URL`` while
that variable is set (a stand-in with its Compute API sets it to its own URL, on a free
port); with it unset, or for any other environment, the SDK's own answer is unchanged.
It is applied in this process by the offline session, and in every Python process started
beneath it (the endpoint, the user endpoints it starts, their workers) by the
``sitecustomize`` in :data:`STARTUP_DIR`, which the session puts first on ``PYTHONPATH``.
That module only arms an import hook, so a process that never imports the SDK pays
nothing for it.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

URL_VAR = "CHILTEPIN_COMPUTE_URL"
"""The Compute web service URL that ``local`` stands for while it is set."""

STARTUP_DIR = Path(__file__).resolve().parent / "startup"
"""Put first on ``PYTHONPATH``: its ``sitecustomize`` calls :func:`follow_environment`."""

ENVIRONMENTS = "globus_compute_sdk.sdk._environments"
#: Modules that bind ``get_web_service_url`` by name when they are imported.
BINDERS = (ENVIRONMENTS, "globus_compute_sdk.sdk.client", "globus_compute_sdk.sdk.diagnostic")
_FOLLOWS = "_chiltepin_follows_environment"


def local_url() -> str | None:
    """The URL ``local`` stands for now, if :data:`URL_VAR` says one."""
    url = os.environ.get(URL_VAR, "").strip().rstrip("/")
    return url or None


def _following(original: Callable[..., str]) -> Callable[..., str]:
    @functools.wraps(original)
    def get_web_service_url(envname: str | None = None) -> str:
        name = envname or os.getenv("GLOBUS_SDK_ENVIRONMENT", "production")
        url = local_url() if name == "local" else None
        return url or original(envname)

    setattr(get_web_service_url, _FOLLOWS, True)
    return get_web_service_url


def _patch(module: ModuleType) -> None:
    """Rebind ``module``'s ``get_web_service_url`` to the following one (once)."""
    current = getattr(module, "get_web_service_url", None)
    if current is None or getattr(current, _FOLLOWS, False):
        return
    environments = sys.modules.get(ENVIRONMENTS)
    shared = getattr(environments, "get_web_service_url", None)
    if module.__name__ != ENVIRONMENTS and getattr(shared, _FOLLOWS, False):
        module.get_web_service_url = shared  # type: ignore[attr-defined]  # rebinds a module global
    else:
        module.get_web_service_url = _following(current)  # type: ignore[attr-defined]  # likewise


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patch the SDK's environments module as soon as it has run, before any module
    imports ``get_web_service_url`` from it."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != ENVIRONMENTS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        loader = getattr(spec, "loader", None)
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return None
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            _patch(module)

        loader.exec_module = exec_module
        return spec


_HOOK = _PatchOnImport()


def follow_environment() -> None:
    """Make the SDK's ``local`` environment follow :data:`URL_VAR` in this process: the
    modules already imported are patched now, the environments module on import."""
    for name in BINDERS:
        module = sys.modules.get(name)
        if module is not None:
            _patch(module)
    if ENVIRONMENTS not in sys.modules and _HOOK not in sys.meta_path:
        sys.meta_path.insert(0, _HOOK)


def pythonpath(existing: str | None = None) -> str:
    """``PYTHONPATH`` with :data:`STARTUP_DIR` first (once), before ``existing``."""
    parts = [p for p in (existing or "").split(os.pathsep) if p and p != str(STARTUP_DIR)]
    return os.pathsep.join([str(STARTUP_DIR), *parts])


def follows(get_web_service_url: Any) -> bool:
    """Whether ``get_web_service_url`` is the one :func:`follow_environment` installs."""
    return bool(getattr(get_web_service_url, _FOLLOWS, False))
