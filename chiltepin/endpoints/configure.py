"""Write an endpoint directory atomically, after the endpoint's own loaders accept it.

Files are rendered into a hidden sibling directory, judged there by
``globus_compute_endpoint``'s loaders (the parent ``config.yaml`` and the user config that
the site's defaults render to), and only then renamed into place. A failure at any step
leaves the previous directory, or none, exactly as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import jinja2
import jsonschema
import yaml

from chiltepin.endpoints.options import validate_user_options
from chiltepin.endpoints.render import (
    SITE_RECORD,
    USER_SCHEMA,
    USER_TEMPLATE,
    EndpointRequest,
    endpoint_files,
)
from chiltepin.errors import ChiltepinError, ConfigError
from chiltepin.sites import allowlist
from chiltepin.sites.allowlist import Allowed
from chiltepin.sites.model import Site
from chiltepin.upstream import config as upstream

_ENDPOINT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED_ENV = {"PATH", "USER", "PWD"}  # PATH is chiltepin's; the endpoint sets the others


def parse_environment(assignments: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``["SLURM_CONF=/etc/slurm.conf"]`` → validated (name, value) pairs."""
    pairs = []
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep or not _ENV_NAME.fullmatch(name):
            raise ConfigError(
                f"expected NAME=VALUE with a shell variable name, got {assignment!r}",
                source="--env",
            )
        if name in _RESERVED_ENV:
            raise ConfigError(
                f"{name} cannot be set here; allowed: any other variable", source="--env"
            )
        pairs.append((name, value))
    return tuple(pairs)


def endpoints_root(config_dir: Path | None = None) -> Path:
    """Where endpoint directories live: ``--config-dir``, ``$GLOBUS_COMPUTE_USER_DIR``, or
    ``~/.globus_compute`` (the same rule as ``globus-compute-endpoint``)."""
    if config_dir is not None:
        return config_dir.expanduser()
    if env := os.environ.get("GLOBUS_COMPUTE_USER_DIR"):
        return Path(env).expanduser()
    return Path.home() / ".globus_compute"


def check_endpoint_name(name: str) -> str:
    if not _ENDPOINT_NAME.fullmatch(name):
        raise ConfigError(
            "endpoint names are 1-64 letters, digits, '_', '.' or '-', starting with a"
            f" letter or digit; got {name!r}"
        )
    return name


@contextmanager
def _endpoint_verdict() -> Iterator[None]:
    """Turn the endpoint loaders' refusals into one clear chiltepin error."""
    try:
        yield
    except (click.ClickException, jinja2.TemplateError, jsonschema.ValidationError) as err:
        message = err.format_message() if isinstance(err, click.ClickException) else str(err)
        raise ChiltepinError(
            f"globus-compute-endpoint refused the configuration: {message}"
        ) from err


def _judge(directory: Path) -> None:
    """Load what was written the way a running endpoint would; raise if it is refused."""
    parent = upstream.load_config_yaml((directory / "config.yaml").read_text())
    if not isinstance(parent, upstream.CoreEndpointConfig):
        raise ChiltepinError("internal error: config.yaml rendered with an engine block")
    if parent.identity_mapping_config_path is not None:
        try:
            upstream.map_identities(parent.identity_mapping_config_path, [])
        except Exception as err:
            raise ConfigError(
                f"globus-compute-endpoint cannot use this identity mapping: {err}",
                source=parent.identity_mapping_config_path,
            ) from err
    rendered = upstream.render_user_config(
        (directory / USER_TEMPLATE).read_text(),
        directory / USER_TEMPLATE,
        json.loads((directory / USER_SCHEMA).read_text()),
        {},
    )
    user_config = upstream.load_config_yaml(rendered)
    if not isinstance(user_config, upstream.UserEndpointConfig) or user_config.engine is None:
        raise ChiltepinError("internal error: the user config template rendered no engine")


def configure_endpoint(request: EndpointRequest, root: Path, *, force: bool = False) -> Path:
    """Create (or with ``force`` replace) ``root/<name>``; return its path."""
    name = check_endpoint_name(request.endpoint_name)
    final_dir = root / name
    if final_dir.exists() and not force:
        raise ChiltepinError(
            f"endpoint {name!r} is already configured at {final_dir};"
            " pass --force to replace its configuration"
        )
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.configuring-", dir=root))
    try:
        for filename, content in endpoint_files(request, final_dir).items():
            (staging / filename).write_text(content)
        with _endpoint_verdict():
            _judge(staging)
        _swap_into_place(staging, final_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final_dir


def _swap_into_place(staging: Path, final_dir: Path) -> None:
    """Rename ``staging`` to ``final_dir``, keeping files chiltepin does not own.

    A re-configured endpoint keeps its identity (``endpoint.json``), credentials and logs:
    only chiltepin's own files are replaced.
    """
    if final_dir.exists():
        for entry in final_dir.iterdir():
            if not (staging / entry.name).exists():
                entry.rename(staging / entry.name)
        retired = final_dir.with_name(f".{final_dir.name}.retired-{os.getpid()}")
        final_dir.rename(retired)
        staging.rename(final_dir)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staging.rename(final_dir)
    final_dir.chmod(0o700)


def load_endpoint_site(endpoint_dir: Path) -> Site:
    """The site an endpoint directory was configured from (``chiltepin-site.json``)."""
    record = endpoint_dir / SITE_RECORD
    if not record.is_file():
        raise ChiltepinError(
            f"{endpoint_dir} was not configured by chiltepin (no {SITE_RECORD});"
            f" run: chiltepin endpoint configure {endpoint_dir.name} --site SITE"
        )
    return Site.model_validate(json.loads(record.read_text())["site"])


def render_endpoint(endpoint_dir: Path, options: dict[str, Any], source: str) -> str:
    """What ``options`` become on this endpoint, rendered from its own files.

    Options are checked first against the endpoint's schema with chiltepin's messages; the
    rendering itself is the endpoint's, and its result is loaded by the endpoint's loader.
    """
    if not endpoint_dir.is_dir():
        raise ChiltepinError(
            f"no endpoint directory {endpoint_dir}; create it with:"
            f" chiltepin endpoint configure {endpoint_dir.name} --site SITE"
        )
    load_endpoint_site(endpoint_dir)  # a clear error for directories chiltepin did not write
    schema = json.loads((endpoint_dir / USER_SCHEMA).read_text())
    validate_user_options(options, schema, source)
    with _endpoint_verdict():
        rendered = upstream.render_user_config(
            (endpoint_dir / USER_TEMPLATE).read_text(),
            endpoint_dir / USER_TEMPLATE,
            schema,
            options,
        )
        upstream.load_config_yaml(rendered)
    return rendered


def _register(client: Any, names: Iterable[str]) -> list[Allowed]:
    """Register each ``module:function`` with the service (by reference: the workers import
    it) and return the allow-list entries for them."""
    entries = []
    for name in names:
        fn = allowlist.import_function(name)
        entries.append(Allowed(str(client.register_function(fn, description=name)), name))
    return entries


def allow_functions(endpoint_dir: Path, client: Any, names: list[str]) -> list[Allowed]:
    """Register ``names`` (``module:function``) and add them to the endpoint's allow-list:
    its site record and ``config.yaml`` (judged by the endpoint's own loader before it is
    written). The running endpoint learns them when it is restarted (it sends its list to
    the service when it registers)."""
    site = load_endpoint_site(endpoint_dir)
    record = json.loads((endpoint_dir / SITE_RECORD).read_text())
    current = yaml.safe_load((endpoint_dir / "config.yaml").read_text()) or {}
    entries = _register(client, names)
    updated = site.model_copy(
        update={"allowed_functions": allowlist.add(site.allowed_functions, entries)}
    )
    request = EndpointRequest(
        endpoint_name=endpoint_dir.name,
        site=updated,
        site_ref=record["site_ref"],
        local_compute_services=bool(current.get("local_compute_services")),
        contact_email=current.get("email"),
        identity_mapping=current.get("identity_mapping_config_path"),
    )
    files = endpoint_files(request, endpoint_dir)
    with _endpoint_verdict():
        upstream.load_config_yaml(files["config.yaml"])
    for filename in ("config.yaml", SITE_RECORD):
        (endpoint_dir / filename).write_text(files[filename])
    return entries


def private_parent(path: Path) -> Path | None:
    """The first directory on the way to ``path`` that other accounts cannot enter (None:
    they can reach it). A multi-user endpoint forks user endpoints from its interpreter
    and drops privileges before they exec, so the mapped accounts must reach it."""
    for parent in reversed(path.resolve().parents):
        if not parent.stat().st_mode & 0o001:
            return parent
    return None
