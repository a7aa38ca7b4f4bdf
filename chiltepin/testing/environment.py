"""The environment that points the real SDK and the real endpoint at the stand-in.

What each variable does (verified against globus-compute-sdk/endpoint 4.19, globus-sdk 4.9):

``GLOBUS_SDK_ENVIRONMENT=local``
    ``globus_compute_sdk.Client()`` then talks to ``http://localhost:5000`` and the token
    storage namespace becomes ``user/local`` (never mixed with real ``production`` tokens).
    It also makes any *other* ``globus_sdk`` client without an explicit URL fail with
    ``Unrecognized environment "local"`` instead of reaching the real cloud: a safe failure.
``GLOBUS_SDK_SERVICE_URL_AUTH``
    where ``globus_sdk`` sends token and userinfo requests (the stand-in's Auth routes).
``GLOBUS_SDK_SERVICE_URL_COMPUTE``
    only read by bare ``globus_sdk.ComputeClientV2/V3()``; the Compute SDK ignores it.
``CHILTEPIN_COMPUTE_URL`` (a stand-in with its Compute API only)
    the URL the Compute SDK's ``local`` environment stands for, in every process that runs
    with ``chiltepin.upstream.compute_url.STARTUP_DIR`` first on ``PYTHONPATH`` (the offline
    session puts it there): without it ``local`` is ``http://localhost:5000`` in the SDK and
    in the endpoint alike, so a stand-in on any other port is reached only this way.
``GLOBUS_SDK_SERVICE_URL_TRANSFER``
    where ``globus_sdk.TransferClient`` sends its ``/v0.10/...`` requests (read by
    ``globus_sdk.config.get_service_url("transfer")`` before any environment config).
``GLOBUS_COMPUTE_CLIENT_ID`` / ``GLOBUS_COMPUTE_CLIENT_SECRET``
    make the SDK and the endpoint use a ``ClientApp`` (client-credentials grant), so no
    browser login is ever attempted.  The values are the stand-in's fake credentials.
``CHILTEPIN_GLOBUS_STANDIN``
    a label other chiltepin code can check to say loudly that it is not talking to Globus.

The endpoint side additionally needs ``local_compute_services: true`` in its
``config.yaml`` (the ``local`` environment), and, when it runs as root, a
``user_environment.yaml`` carrying these variables plus ``HOME``, ``PATH`` and
``PYTHONPATH``: a privileged endpoint clears the environment of the user endpoints it forks.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from chiltepin.upstream.compute_url import URL_VAR

STANDIN_CLIENT_ID = "c41e7e91-57a4-4d00-9e11-000000057a4d"
STANDIN_CLIENT_SECRET = "chiltepin-stand-in-secret-not-a-globus-credential"
LOCAL_COMPUTE_URL = "http://localhost:5000"
"""What the SDK's and endpoint's ``local`` environment hard-wire."""

MARKER_VAR = "CHILTEPIN_GLOBUS_STANDIN"


def client_env(
    base_url: str,
    *,
    client_id: str = STANDIN_CLIENT_ID,
    client_secret: str = STANDIN_CLIENT_SECRET,
    compute: bool = True,
) -> dict[str, str]:
    """Environment variables for SDK and endpoint processes that should use the stand-in
    (``compute``: it serves the Compute API, so the SDK's ``local`` environment means it)."""
    base = base_url.rstrip("/")
    env = {
        "GLOBUS_SDK_ENVIRONMENT": "local",
        "GLOBUS_SDK_SERVICE_URL_AUTH": f"{base}/",
        "GLOBUS_SDK_SERVICE_URL_COMPUTE": f"{base}/",
        "GLOBUS_SDK_SERVICE_URL_TRANSFER": f"{base}/",
        "GLOBUS_COMPUTE_CLIENT_ID": client_id,
        "GLOBUS_COMPUTE_CLIENT_SECRET": client_secret,
        MARKER_VAR: base,
    }
    if compute:
        env[URL_VAR] = base
    return env


def export_lines(env: Mapping[str, str]) -> str:
    """``export K=V`` lines, shell-quoted, for a user to paste."""
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())


def unset_lines(env: Mapping[str, str]) -> str:
    return "unset " + " ".join(env)


@contextmanager
def applied(env: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for ``None`` values, unset) variables in ``os.environ``; restore on exit."""
    saved = {k: os.environ.get(k) for k in env}
    try:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
