"""The endpoint's config loaders and user-config renderer.

The endpoint's public CLI (``render-user-config``) reads files from an endpoint directory;
chiltepin also needs to render in memory (``chiltepin endpoint render``, the embedded local
engine) with *exactly* the endpoint's own rules: option sanitising, schema check, sandboxed
Jinja, ``shell_escape``. Re-implementing them would let the two drift, so we call them here
and nowhere else.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import uuid
from pathlib import Path
from typing import Any

from globus_compute_endpoint.endpoint.config import CoreEndpointConfig, UserEndpointConfig
from globus_compute_endpoint.endpoint.config.utils import (
    _sanitize_user_json,
    load_config_yaml,
    render_config_user_template,
)
from globus_compute_endpoint.endpoint.identity_mapper import MappedPosixIdentity
from globus_compute_sdk.sdk.batch import create_user_runtime

__all__ = [
    "CoreEndpointConfig",
    "UserEndpointConfig",
    "encode_like_user_options",
    "load_config_yaml",
    "render_user_config",
]


def encode_like_user_options(values: dict[str, Any]) -> dict[str, Any]:
    """Encode values the way the endpoint encodes submit-time options before rendering."""
    return _sanitize_user_json(values)


def _current_user_identity() -> MappedPosixIdentity:
    return MappedPosixIdentity(
        local_user_record=pwd.getpwuid(os.getuid()),
        matched_identity=uuid.UUID(int=0),
        globus_identity_candidates=[],
    )


def render_user_config(
    template: str,
    template_path: Path,
    schema: dict[str, Any],
    user_options: dict[str, Any],
) -> str:
    """Render a user endpoint config as a running endpoint would for these options.

    Raises ``jsonschema.ValidationError`` when the schema rejects the options.
    """
    runtime = json.loads(json.dumps(dataclasses.asdict(create_user_runtime())))
    return render_config_user_template(
        parent_config=CoreEndpointConfig(),
        user_config_template=template,
        user_config_template_path=template_path,
        mapped_identity=_current_user_identity(),
        user_config_schema=schema,
        user_opts=user_options,
        user_runtime=runtime,
    )


def map_identities(mapping_path: Path, identity_set: list[dict[str, Any]]) -> str | None:
    """The local user ``globus-compute-endpoint``'s identity mapper maps ``identity_set``
    to with the configuration at ``mapping_path``, taking the first mapping found as the
    endpoint does (``None``: no mapping). Loading it is how a configuration is checked:
    the endpoint's own mapper raises on a bad one."""
    from globus_compute_endpoint.endpoint.identity_mapper import PosixIdentityMapper

    mapper = PosixIdentityMapper(mapping_path, "chiltepin-check")
    try:
        if not mapper.identity_mappings:  # it skips what it cannot read, with a log line
            raise ValueError("it holds no mapping the endpoint can use (check its DATA_TYPE)")
        for found in mapper.map_identities(identity_set):
            if found:
                return str(next(iter(found[0].values()))[0])
        return None
    finally:
        mapper.stop_watching()
